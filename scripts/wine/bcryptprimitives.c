/*
 * ProcessPrng for wine releases without bcryptprimitives.dll (Debian 12's wine 8.0 has none).
 *
 * Rust's std (1.78+) imports ProcessPrng from bcryptprimitives.dll on Windows for its random
 * seeds (HashMap keys); Windows 10 and later ship that DLL, so the built addon is right to
 * import it, but under wine 8 Node cannot load the addon ("Module not found"). This DLL is
 * installed into the wine prefix of `npm run windows-smoke` only (never shipped) and gives
 * ProcessPrng its documented meaning: fill the buffer from the system CSPRNG, here wine's
 * BCryptGenRandom, and always return TRUE (the real one never fails either).
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        /* BCryptGenRandom takes a ULONG length: fill SIZE_T-sized requests in chunks. */
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            /* There is no error to return: like the real ProcessPrng, stop the process. */
            RaiseFailFastException(NULL, NULL, 0);
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
