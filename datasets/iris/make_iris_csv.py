"""Writes iris.csv (header row, species by name) from scikit-learn's bundled iris.csv.

Run with a Python that has scikit-learn installed:  python make_iris_csv.py
scikit-learn's file starts with `150,4,setosa,versicolor,virginica` (rows, features, target
names) and gives the species as 0/1/2; this copies the four measurements of each row
unchanged (as text) and writes the species' name.
"""

import csv
import os

import sklearn.datasets

source = os.path.join(os.path.dirname(sklearn.datasets.__file__), "data", "iris.csv")
with open(source, newline="") as f:
    rows = list(csv.reader(f))
n_rows, n_features, *names = rows[0]
assert (int(n_rows), int(n_features)) == (150, 4) and len(rows) == 151
with open(os.path.join(os.path.dirname(__file__) or ".", "iris.csv"), "w", newline="") as f:
    out = csv.writer(f, lineterminator="\n")
    out.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
    for row in rows[1:]:
        out.writerow(row[:4] + [names[int(row[4])]])
