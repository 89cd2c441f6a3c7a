//! The host interface a contract imports from module `covenant`. Pointers and lengths are
//! offsets into the contract's own linear memory. Functions that produce variable-length data
//! return its length (or -1 for "none") and leave it in a host-side buffer that
//! `buffer_read` copies out.

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "covenant")]
unsafe extern "C" {
    pub fn method_len() -> i32;
    pub fn method_read(ptr: *mut u8);
    pub fn args_len() -> i32;
    pub fn args_read(ptr: *mut u8);
    pub fn buffer_read(ptr: *mut u8);
    pub fn state_get(key_ptr: *const u8, key_len: i32) -> i64;
    pub fn state_put(key_ptr: *const u8, key_len: i32, val_ptr: *const u8, val_len: i32);
    pub fn state_delete(key_ptr: *const u8, key_len: i32);
    pub fn state_range(
        start_ptr: *const u8,
        start_len: i32,
        end_ptr: *const u8,
        end_len: i32,
        limit: i32,
    ) -> i64;
    pub fn emit_event(topic_ptr: *const u8, topic_len: i32, data_ptr: *const u8, data_len: i32);
    pub fn caller() -> i64;
    pub fn tx_id(ptr: *mut u8);
    pub fn block_height() -> i64;
    pub fn block_time_ms() -> i64;
    pub fn call_contract(
        name_ptr: *const u8,
        name_len: i32,
        method_ptr: *const u8,
        method_len: i32,
        args_ptr: *const u8,
        args_len: i32,
    ) -> i64;
    pub fn set_return(ptr: *const u8, len: i32);
    pub fn fail(ptr: *const u8, len: i32) -> !;
}
