//! The CSV loader: the shipped iris file (values and classes), numeric and categorical
//! features (one-hot and index, sorted vocabularies), label modes, and errors that name the
//! file, the line and the column.

use std::path::PathBuf;

use kiln::datasets::csv_file::{CategoricalEncoding, CsvLabel, CsvLoader};

const IRIS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/iris/iris.csv");

fn write_csv(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("kiln-csv-{}-{name}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn iris_loads_with_its_four_measurements_and_three_species() {
    let iris = CsvLoader::new(IRIS)
        .label("species", CsvLabel::Categorical)
        .load()
        .unwrap();
    let data = &iris.dataset;
    assert_eq!(
        (data.len(), data.feature_shape(), data.label_shape()),
        (150, &[4][..], &[3][..])
    );
    assert_eq!(iris.class_names, ["setosa", "versicolor", "virginica"]);
    assert_eq!(
        iris.feature_names,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(
        data.example(0).unwrap(),
        (&[5.1, 3.5, 1.4, 0.2][..], &[1.0, 0.0, 0.0][..])
    );
    assert_eq!(
        data.example(149).unwrap(),
        (&[5.9, 3.0, 5.1, 1.8][..], &[0.0, 0.0, 1.0][..])
    );
    let per_class: Vec<f32> = (0..3)
        .map(|c| data.labels().iter().skip(c).step_by(3).sum())
        .collect();
    assert_eq!(per_class, [50.0, 50.0, 50.0]);
}

#[test]
fn chosen_features_in_order_and_a_numeric_label() {
    let iris = CsvLoader::new(IRIS)
        .features(["petal_width", "sepal_length"])
        .label("petal_length", CsvLabel::Value)
        .categorical_encoding(CategoricalEncoding::Index)
        .load()
        .unwrap();
    assert_eq!(iris.dataset.label_shape(), [1]);
    assert_eq!(
        iris.dataset.example(0).unwrap(),
        (&[0.2, 5.1][..], &[1.4][..])
    );
    assert!(iris.class_names.is_empty());
}

#[test]
fn categorical_features_one_hot_and_index_with_sorted_vocabularies() {
    let path = write_csv(
        "categorical",
        "size,colour,grade,target\n1.5,red,10,yes\n2,blue,2,no\n-3, green ,2,yes\n4e1,red,1,no\n",
    );
    let loader = CsvLoader::new(&path)
        .categorical(["colour", "grade"])
        .label("target", CsvLabel::Int);
    let one_hot = loader.load().unwrap();
    assert_eq!(
        one_hot.feature_names,
        [
            "size",
            "colour=blue",
            "colour=green",
            "colour=red",
            "grade=1",
            "grade=2",
            "grade=10"
        ]
    );
    assert_eq!(
        one_hot.vocabularies["grade"],
        ["1", "2", "10"],
        "numbers sort as numbers"
    );
    assert_eq!(one_hot.class_names, ["no", "yes"]);
    assert_eq!(one_hot.dataset.labels(), [1.0, 0.0, 1.0, 0.0]);
    assert_eq!(
        one_hot.dataset.example(2).unwrap().0,
        [-3.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "values are trimmed"
    );
    let index = loader
        .categorical_encoding(CategoricalEncoding::Index)
        .load()
        .unwrap();
    assert_eq!(index.feature_names, ["size", "colour", "grade"]);
    assert_eq!(
        index.dataset.features(),
        [1.5, 2.0, 2.0, 2.0, 0.0, 1.0, -3.0, 1.0, 1.0, 40.0, 2.0, 0.0]
    );
}

/// The error of loading `text` with features `x, y` and label `label`.
fn error_of(name: &str, text: &str) -> String {
    let path = write_csv(name, text);
    let error = CsvLoader::new(&path)
        .label("label", CsvLabel::Int)
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(path.to_str().unwrap()),
        "names the file: {error}"
    );
    error
}

#[test]
fn errors_name_the_file_line_and_column() {
    let not_a_number = error_of("nan", "x,y,label\n1,2,a\n3,4,b\n5,abc,a\n");
    assert!(
        not_a_number.contains(":4, column `y`: `abc` is not a number"),
        "{not_a_number}"
    );
    let short_row = error_of("short", "x,y,label\n1,2,a\n3,b\n");
    assert!(
        short_row.contains(":3: 2 fields where the header has 3"),
        "{short_row}"
    );
    let empty = error_of("empty", "x,y,label\n1,,a\n");
    assert!(empty.contains(":2, column `y`: empty value"), "{empty}");
    let no_rows = error_of("norows", "x,y,label\n");
    assert!(no_rows.contains("no rows"), "{no_rows}");
    let no_label = error_of("nolabel", "x,y,z\n1,2,3\n");
    assert!(
        no_label.contains(":1, column `label`: no such column (the header has: x, y, z)"),
        "{no_label}"
    );
    let path = write_csv("twice", "x,y,label\n1,2,a\n");
    let twice = CsvLoader::new(&path)
        .features(["x", "label"])
        .label("label", CsvLabel::Int)
        .load();
    assert!(
        twice
            .unwrap_err()
            .to_string()
            .contains("column `label`: is the label column")
    );
    let missing = CsvLoader::new("/nonexistent/file.csv")
        .label("y", CsvLabel::Value)
        .load();
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/file.csv")
    );
    let unlabelled = CsvLoader::new(&path).load().unwrap_err().to_string();
    assert!(unlabelled.contains("label"), "{unlabelled}");
}
