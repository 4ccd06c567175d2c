/* ProcessPrng for Wine releases older than 9 (Debian 12 ships 8.0), which lack
 * bcryptprimitives.dll: Rust's standard library on Windows gets its random bytes there.
 * Only for running the Windows tests under Wine; real Windows has the DLL. */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, (ULONG)len); }
