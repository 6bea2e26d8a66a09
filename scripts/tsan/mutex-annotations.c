// Tells ThreadSanitizer when Swift's Synchronization.Mutex is taken and released on Linux.
//
// Mutex's fast paths are inlined into the caller and so instrumented, but under contention it
// locks and unlocks through _MutexHandle._lockSlow / _tryLockSlow / _unlockSlow, which live in the
// uninstrumented libswiftSynchronization.so and hand the lock over in the kernel (FUTEX_LOCK_PI).
// TSan never sees that hand-over, so every contended Mutex reports a "Swift access race" on the
// state it guards: a Mutex<Int> counter on four threads does (scripts/sanitize, Docs/SECURITY-TESTING.md).
//
// scripts/sanitize builds this file into a library it preloads into the TSan test run. Each
// function stands in for the stdlib's (the executable's calls resolve to the preloaded library
// first), calls the real one, and marks an acquire after taking the lock or a release before
// giving it up, on the lock word's address: the same address the inlined fast paths' atomics use.
// Nothing else changes, so a real race (state touched with and without the lock) is still found.
// Never linked into AgentHost itself.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Weak: a process without TSan that inherits the preload (swift-test itself, a PostgreSQL server)
// just calls through.
void __tsan_acquire(void *address) __attribute__((weak));
void __tsan_release(void *address) __attribute__((weak));

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

// Swift passes a borrowed _MutexHandle by address as the method's self (swiftcall's context).
typedef __attribute__((swiftcall)) void (*LockSlow)(uint32_t, void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) bool (*TryLockSlow)(void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) void (*UnlockSlow)(void *__attribute__((swift_context)));

static void *real(const char *name) {
    void *function = dlsym(RTLD_NEXT, name);
    if (!function) {
        fprintf(stderr, "mutex-annotations: %s not found\n", name);
        abort();
    }
    return function;
}

__attribute__((swiftcall)) void lockSlow(uint32_t id, void *__attribute__((swift_context)) handle) __asm__(LOCK_SLOW);
__attribute__((swiftcall)) void lockSlow(uint32_t id, void *__attribute__((swift_context)) handle) {
    static LockSlow function;
    if (!function) function = (LockSlow)real(LOCK_SLOW);
    function(id, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

__attribute__((swiftcall)) bool tryLockSlow(void *__attribute__((swift_context)) handle) __asm__(TRY_LOCK_SLOW);
__attribute__((swiftcall)) bool tryLockSlow(void *__attribute__((swift_context)) handle) {
    static TryLockSlow function;
    if (!function) function = (TryLockSlow)real(TRY_LOCK_SLOW);
    bool locked = function(handle);
    if (locked && __tsan_acquire) __tsan_acquire(handle);
    return locked;
}

__attribute__((swiftcall)) void unlockSlow(void *__attribute__((swift_context)) handle) __asm__(UNLOCK_SLOW);
__attribute__((swiftcall)) void unlockSlow(void *__attribute__((swift_context)) handle) {
    static UnlockSlow function;
    if (!function) function = (UnlockSlow)real(UNLOCK_SLOW);
    if (__tsan_release) __tsan_release(handle);
    function(handle);
}
