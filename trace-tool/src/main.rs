//! `trace-tool`: decodes Warden trace buffers (not yet implemented; see README.md).

fn main() {
    eprintln!("trace-tool: not implemented yet; the trace ring lands with the observability issue");
    std::process::exit(2);
}
