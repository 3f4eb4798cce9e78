//! Counts the bytes a thread allocates and frees while a hook runs, so a hook's memory can be
//! bounded as a whole. Rhai bounds each value (a string's length, an array's elements), not
//! their sum: a script can hold many values at their limit, or a batch hook can fill every
//! field of every row. The meter sees every allocation of the thread in between.
//!
//! It needs the program's global allocator to be [`Metered`] (the `taskifai` binary's is);
//! without it [`held`] stays 0 and only Rhai's own limits apply.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static HELD: Cell<i64> = const { Cell::new(0) };
}

/// A global allocator that meters the threads running [`metered`] code.
pub struct Metered<A>(pub A);

#[inline]
fn note(delta: i64) {
    // `try_with`: the thread's locals may be gone while it exits. Neither local allocates.
    let _ = ACTIVE.try_with(|a| {
        if a.get() {
            let _ = HELD.try_with(|h| h.set(h.get() + delta));
        }
    });
}

// SAFETY: every call is forwarded unchanged, with the caller's arguments, to the wrapped
// allocator, which upholds GlobalAlloc's contract; counting neither allocates nor touches the
// memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Metered<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as i64);
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as i64);
        // SAFETY: the caller's layout, as GlobalAlloc::alloc_zeroed requires.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as i64));
        // SAFETY: ptr came from this allocator (which is the wrapped one) with this layout.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as i64 - layout.size() as i64);
        // SAFETY: ptr, layout and new_size as the caller gave them, per GlobalAlloc::realloc.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with this thread's allocations counted from zero.
pub fn metered<T>(f: impl FnOnce() -> T) -> T {
    let (was, held) = (
        ACTIVE.with(|a| a.replace(true)),
        HELD.with(|h| h.replace(0)),
    );
    let out = f();
    ACTIVE.with(|a| a.set(was));
    HELD.with(|h| h.set(held));
    out
}

/// Bytes allocated and not freed by this thread since [`metered`] began.
pub fn held() -> i64 {
    HELD.with(Cell::get)
}

#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: Metered<std::alloc::System> = Metered(std::alloc::System);

#[cfg(test)]
mod tests {
    #[test]
    fn allocations_inside_are_counted_and_frees_subtract() {
        super::metered(|| {
            let big = vec![0u8; 1 << 20];
            assert!(super::held() >= 1 << 20, "{}", super::held());
            drop(big);
            assert!(super::held() < 1024, "{}", super::held());
        });
    }
}
