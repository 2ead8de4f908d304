fn main() {
    let mode = std::env::args().nth(1).unwrap();
    let input = std::fs::read_to_string(std::env::args().nth(2).unwrap()).unwrap();
    match mode.as_str() {
        "adf" => println!("{}", serde_json::to_string(&proxysync_formats::markdown_to_adf(&input)).unwrap()),
        "md" => println!("{}", proxysync_formats::adf_to_markdown(&serde_json::from_str(&input).unwrap())),
        "w2m" => println!("{}", proxysync_formats::wiki_to_markdown(&input)),
        "m2w" => println!("{}", proxysync_formats::markdown_to_wiki(&input)),
        _ => println!("{}", proxysync_formats::canonical_markdown(&input)),
    }
}
