//! What a `no_std` contract needs on wasm32: an allocator and a panic handler.
//!
//! Every call runs in a fresh instance, so a bump allocator that never frees is both the
//! simplest and the fastest choice; memory is bounded by the chain's limit, beyond which the
//! call fails.

use core::{
    alloc::{GlobalAlloc, Layout},
    sync::atomic::{AtomicUsize, Ordering},
};

const PAGE: usize = 65_536;

struct Bump {
    next: AtomicUsize,
}

unsafe extern "C" {
    /// Start of the heap, placed by the linker after static data.
    static __heap_base: u8;
}

// SAFETY: wasm32 contracts are single-threaded; `alloc` hands out disjoint, aligned ranges of
// linear memory, growing it when needed, and reports failure with a null pointer.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        if next == 0 {
            next = core::ptr::addr_of!(__heap_base) as usize;
        }
        let start = (next + layout.align() - 1) & !(layout.align() - 1);
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        let have = core::arch::wasm32::memory_size(0) * PAGE;
        if end > have {
            let pages = (end - have).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
        }
        self.next.store(end, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: AtomicUsize::new(0),
};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let msg = alloc::format!("contract panicked: {}", info.message());
    crate::host::fail_message(&msg)
}
