//! Kasa and the device emulators as separate processes: the `kasa` binary
//! (built once per test run), `kasa emulate terminal|fiscal` on loopback
//! TCP, and `kasa serve` with a settings file pointing at them, optionally
//! armed to stop dead at a crash point (`KASA_FAILPOINT`).
