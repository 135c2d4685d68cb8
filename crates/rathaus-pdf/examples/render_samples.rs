//! Writes the sample receipt and notice to a directory (default: the system temp dir) and
//! times rendering, to look at the layout and to check the batch budget (10,000 dog-tax
//! notices in under a minute on two cores).
//!
//! cargo run --release -p rathaus-pdf --example render_samples -- [DIR] [ITERATIONS]

#[path = "../tests/samples/mod.rs"]
mod samples;

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(std::env::temp_dir, Into::into);
    let iterations: u32 = args.next().map_or(Ok(200), |n| n.parse())?;

    for (name, doc) in [
        ("receipt", samples::receipt()),
        ("notice", samples::notice()),
    ] {
        let started = Instant::now();
        let pdf = rathaus_pdf::render(&doc)?;
        let first = started.elapsed();
        let path = dir.join(format!("rathaus-sample-{name}.pdf"));
        std::fs::write(&path, &pdf)?;

        let started = Instant::now();
        for _ in 0..iterations {
            rathaus_pdf::render(&doc)?;
        }
        let each = started.elapsed() / iterations.max(1);
        println!(
            "{name}: {} bytes, first render {first:?} (font loading), then {each:?} per document -> {}",
            pdf.len(),
            path.display()
        );
    }

    // The annual dog-tax run: one notice per thread at a time, as many threads as cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let notice = samples::notice();
    let batch = iterations * 5;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..batch / threads as u32 {
                    let _ = rathaus_pdf::render(&notice);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let per_second = f64::from(batch) / elapsed.as_secs_f64();
    println!(
        "batch: {batch} notices on {threads} threads in {elapsed:?} = {per_second:.0}/s, \
         10,000 notices in {:.1} s",
        10_000.0 / per_second
    );
    Ok(())
}
