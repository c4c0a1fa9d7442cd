//! riptide's load generator. `riptide-bench echo --addr 127.0.0.1:9000 --conns 50 --size 64`
//! prints one JSON object: round trips per second and RTT percentiles in microseconds.

mod args;
mod echo;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    match echo::run(&args) {
        Ok(r) => {
            let us = |q: f64| r.rtt.value_at_quantile(q) as f64 / 1000.0;
            println!(
                "{{\"workload\":\"echo\",\"conns\":{},\"size\":{},\"depth\":{},\"seconds\":{},\"messages\":{},\"rate\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"stalls\":{}}}",
                args.conns,
                args.size,
                args.depth,
                r.elapsed.as_secs_f64(),
                r.messages,
                r.messages as f64 / r.elapsed.as_secs_f64(),
                us(0.5),
                us(0.99),
                us(0.999),
                r.stalls
            );
        }
        Err(msg) => {
            eprintln!("riptide-bench: {msg}");
            std::process::exit(1);
        }
    }
}
