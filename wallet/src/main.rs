//! `testigo-wallet`: parses nothing itself; [`testigo_wallet::run`] is the program.

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("testigo-wallet: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let mut io = testigo_wallet::Io {
        out: Box::new(std::io::stdout()),
        err: Box::new(std::io::stderr()),
    };
    let code = runtime.block_on(testigo_wallet::run(std::env::args_os(), &mut io));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
