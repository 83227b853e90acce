//! Throwaway: prints every collector value per frame for a conformance case's flags.
use vmafx_engine::model::parse_model;
use vmafx_score::{score, FeatureSpec, ScoreRequest};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut request = ScoreRequest::new(&args[0], &args[1]);
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "-m" => { request.models.push(parse_model(&args[i + 1]).unwrap()); i += 2; }
            "--feature" => { request.features.push(FeatureSpec::parse(&args[i + 1]).unwrap()); i += 2; }
            "-n" => { request.no_prediction = true; i += 1; }
            _ => panic!("{}", args[i]),
        }
    }
    let outcome = score(&request, &mut |_| {}).unwrap();
    for v in outcome.collector.vectors() {
        for (f, x) in v.values.iter().enumerate() {
            if let Some(x) = x { println!("{}\t{}\t{:.6}", vmafx_engine::feature::name::alias(&v.name), f, x); }
        }
    }
}
