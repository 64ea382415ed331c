/*
 * For the Wine test only, never shipped: Debian 12's Wine 8.0 has no
 * bcryptprimitives.dll, whose ProcessPrng Rust's standard library (1.78 and
 * later) imports for random numbers on Windows; Windows 10 and 11 have it.
 * This one gives ProcessPrng from advapi32's RtlGenRandom
 * (SystemFunction036), which Wine has. scripts/windows-wine-test.sh builds
 * it with mingw-w64 and puts it beside kasa.exe when Wine lacks its own.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
