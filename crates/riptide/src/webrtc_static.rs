//! Files for the signalling port of a `webrtc://` listener with a static directory: a `GET`
//! (or `HEAD`) other than the signalling path is answered from that directory, so a page and
//! its scripts come from the same engine (and port) as the signalling. `/` and paths ending in
//! `/` mean `index.html`; the content type follows the extension; `..`, backslashes, NULs and
//! anything that resolves outside the directory (symbolic links included) are `404`. Files
//! are read whole, on the reactor thread, up to [`MAX_STATIC_FILE`]: this is for an example
//! page and its assets, not a file server.

use std::path::Path;

/// Largest file served.
pub const MAX_STATIC_FILE: u64 = 8 << 20;

/// The response to `GET target` (`head`: without the body) from directory `root`.
pub(crate) fn respond(root: &Path, target: &str, head: bool) -> Vec<u8> {
    match read(root, target) {
        Some((content_type, body)) => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
                 access-control-allow-origin: *\r\ncache-control: no-cache\r\n\
                 x-content-type-options: nosniff\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            if !head {
                out.extend_from_slice(&body);
            }
            out
        }
        None => b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\
                  access-control-allow-origin: *\r\nconnection: close\r\n\r\nnot found"
            .to_vec(),
    }
}

/// The file `target` names under `root`, with its content type.
fn read(root: &Path, target: &str) -> Option<(&'static str, Vec<u8>)> {
    let relative = target.strip_prefix('/')?;
    let mut path = root.to_path_buf();
    for segment in relative.split('/') {
        if segment == ".." || segment.contains(['\\', '\0']) {
            return None;
        }
        if !segment.is_empty() && segment != "." {
            path.push(segment);
        }
    }
    if relative.is_empty() || relative.ends_with('/') {
        path.push("index.html");
    }
    let real = path.canonicalize().ok()?;
    if !real.starts_with(root.canonicalize().ok()?) {
        return None;
    }
    let meta = real.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_STATIC_FILE {
        return None;
    }
    let body = std::fs::read(&real).ok()?;
    Some((content_type(&real), body))
}

/// The content type of a file by its extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_files_under_the_root_only() {
        let dir = std::env::temp_dir().join(format!("riptide-static-{}", std::process::id()));
        let root = dir.join("www");
        std::fs::create_dir_all(root.join("js")).unwrap();
        std::fs::write(root.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(root.join("js/app.mjs"), "export {}").unwrap();
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("link.txt")).unwrap();
        let get = |t: &str| String::from_utf8(respond(&root, t, false)).unwrap();
        let index = get("/");
        assert!(index.starts_with("HTTP/1.1 200"), "{index}");
        assert!(index.contains("text/html") && index.ends_with("<p>hi</p>"));
        assert!(get("/js/app.mjs").contains("text/javascript"));
        assert!(get("/./js//app.mjs").starts_with("HTTP/1.1 200"));
        let head = String::from_utf8(respond(&root, "/index.html", true)).unwrap();
        assert!(head.contains("content-length: 9") && head.ends_with("\r\n\r\n"));
        for escape in [
            "/../secret.txt",
            "/js/../../secret.txt",
            "/link.txt",
            "/js\\..\\x",
            "/nope",
            "/js/",
        ] {
            assert!(get(escape).starts_with("HTTP/1.1 404"), "{escape}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
