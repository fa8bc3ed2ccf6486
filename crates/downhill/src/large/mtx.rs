//! Matrix Market files (coordinate and array, real/integer/pattern,
//! general/symmetric/skew-symmetric) and plain vector files, with errors
//! that name the file and the line.
//!
//! A small reader rather than a crate: `sprs` reads Matrix Market but
//! brings `ndarray` and its own sparse types to compile for what is about
//! two hundred lines here, and its errors carry no line numbers.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::matrix::{Csr, Matrix};
use crate::scratch::{can_allocate, gigabytes};

/// A file that could not be read as a matrix or vector.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixError {
    /// The file (`None` for in-memory text).
    pub path: Option<PathBuf>,
    /// The 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl MatrixError {
    fn at(path: Option<&Path>, line: Option<usize>, message: impl Into<String>) -> Self {
        MatrixError {
            path: path.map(Path::to_path_buf),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<input>".into());
        match self.line {
            Some(line) => write!(f, "{name}:{line}: {}", self.message),
            None => write!(f, "{name}: {}", self.message),
        }
    }
}

impl std::error::Error for MatrixError {}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Coordinate,
    Array,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Field {
    Real,
    Pattern,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Symmetry {
    General,
    Symmetric,
    Skew,
}

struct Header {
    format: Format,
    field: Field,
    symmetry: Symmetry,
}

/// Lines of a text source with their 1-based numbers, skipping blank
/// lines and `%` comments (and `#` comments in plain vector files).
struct Lines<R> {
    reader: R,
    buffer: String,
    number: usize,
    path: Option<PathBuf>,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R, path: Option<&Path>) -> Self {
        Lines {
            reader,
            buffer: String::new(),
            number: 0,
            path: path.map(Path::to_path_buf),
        }
    }

    fn error(&self, line: Option<usize>, message: impl Into<String>) -> MatrixError {
        MatrixError::at(self.path.as_deref(), line, message)
    }

    /// The next raw line (with its number), or `None` at the end.
    fn raw(&mut self) -> Result<Option<(usize, &str)>, MatrixError> {
        self.buffer.clear();
        match self.reader.read_line(&mut self.buffer) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.number += 1;
                Ok(Some((self.number, self.buffer.trim())))
            }
            Err(e) => Err(MatrixError::at(
                self.path.as_deref(),
                Some(self.number + 1),
                format!("cannot read: {e}"),
            )),
        }
    }

    /// The next line with data (comments and blank lines skipped).
    fn data(&mut self, hash_comments: bool) -> Result<Option<(usize, String)>, MatrixError> {
        loop {
            match self.raw()? {
                None => return Ok(None),
                Some((n, text)) => {
                    if text.is_empty()
                        || text.starts_with('%')
                        || (hash_comments && text.starts_with('#'))
                    {
                        continue;
                    }
                    return Ok(Some((n, text.to_string())));
                }
            }
        }
    }
}

fn parse_header(
    text: &str,
    lines: &Lines<impl BufRead>,
    line: usize,
) -> Result<Header, MatrixError> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if words.len() != 5 || words[0] != "%%matrixmarket" || words[1] != "matrix" {
        return Err(lines.error(
            Some(line),
            format!("not a Matrix Market header: expected '%%MatrixMarket matrix <coordinate|array> <real|integer|pattern> <general|symmetric|skew-symmetric>', got '{text}'"),
        ));
    }
    let format = match words[2].as_str() {
        "coordinate" => Format::Coordinate,
        "array" => Format::Array,
        other => {
            return Err(lines.error(
                Some(line),
                format!("unknown Matrix Market format '{other}' (expected coordinate or array)"),
            ))
        }
    };
    let field = match words[3].as_str() {
        "real" | "double" | "integer" => Field::Real,
        "pattern" if format == Format::Coordinate => Field::Pattern,
        "complex" => {
            return Err(lines.error(Some(line), "complex matrices are not supported (real only)"))
        }
        other => {
            return Err(lines.error(
                Some(line),
                format!(
                    "unsupported Matrix Market field '{other}' (expected real, integer or pattern)"
                ),
            ))
        }
    };
    let symmetry = match words[4].as_str() {
        "general" => Symmetry::General,
        "symmetric" => Symmetry::Symmetric,
        "skew-symmetric" => Symmetry::Skew,
        other => {
            return Err(lines.error(
                Some(line),
                format!("unsupported Matrix Market symmetry '{other}' (expected general, symmetric or skew-symmetric)"),
            ))
        }
    };
    Ok(Header {
        format,
        field,
        symmetry,
    })
}

fn number(
    lines: &Lines<impl BufRead>,
    line: usize,
    word: &str,
    what: &str,
) -> Result<f64, MatrixError> {
    match word.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(lines.error(Some(line), format!("the {what} '{word}' is not finite"))),
        Err(_) => Err(lines.error(Some(line), format!("the {what} '{word}' is not a number"))),
    }
}

fn index(
    lines: &Lines<impl BufRead>,
    line: usize,
    word: &str,
    what: &str,
    limit: usize,
) -> Result<usize, MatrixError> {
    match word.parse::<usize>() {
        Ok(v) if (1..=limit).contains(&v) => Ok(v - 1),
        Ok(v) => Err(lines.error(
            Some(line),
            format!("the {what} index {v} is out of range 1..={limit}"),
        )),
        Err(_) => Err(lines.error(
            Some(line),
            format!("the {what} index '{word}' is not a positive whole number"),
        )),
    }
}

fn size_line(
    lines: &mut Lines<impl BufRead>,
    count: usize,
) -> Result<(usize, Vec<usize>), MatrixError> {
    let Some((n, text)) = lines.data(false)? else {
        return Err(lines.error(None, "the size line is missing"));
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() != count {
        return Err(lines.error(
            Some(n),
            format!(
                "the size line needs {count} numbers ({}), got '{text}'",
                if count == 3 {
                    "rows, columns, entries"
                } else {
                    "rows, columns"
                }
            ),
        ));
    }
    let mut sizes = Vec::with_capacity(count);
    for w in words {
        sizes.push(
            w.parse::<usize>().map_err(|_| {
                lines.error(Some(n), format!("the size '{w}' is not a whole number"))
            })?,
        );
    }
    Ok((n, sizes))
}

/// Reads a Matrix Market matrix from `reader` (`path` names it in errors).
/// Coordinate files become a [`Matrix::Sparse`] (or [`Matrix::Diagonal`] if
/// every entry is on the diagonal), array files a [`Matrix::Dense`].
/// Symmetric and skew-symmetric files are expanded to both triangles;
/// duplicate coordinate entries are added.
pub fn parse_matrix(reader: impl Read, path: Option<&Path>) -> Result<Matrix, MatrixError> {
    let mut lines = Lines::new(BufReader::new(reader), path);
    let header = match lines.raw()? {
        None => return Err(lines.error(None, "the file is empty")),
        Some((n, text)) => {
            let text = text.to_string();
            parse_header(&text, &lines, n)?
        }
    };
    match header.format {
        Format::Coordinate => read_coordinate(&mut lines, &header),
        Format::Array => read_array(&mut lines, &header),
    }
}

fn read_coordinate(
    lines: &mut Lines<impl BufRead>,
    header: &Header,
) -> Result<Matrix, MatrixError> {
    let (size_at, sizes) = size_line(lines, 3)?;
    let (rows, cols, entries) = (sizes[0], sizes[1], sizes[2]);
    if header.symmetry != Symmetry::General && rows != cols {
        return Err(lines.error(
            Some(size_at),
            format!("a symmetric matrix must be square, got {rows} x {cols}"),
        ));
    }
    // The matrix's own storage: row starts (or the diagonal) of `rows`.
    ensure_allocatable(
        lines,
        size_at,
        rows.checked_add(1),
        &format!("the row index of a sparse {rows} x {cols} matrix"),
        8.0 * rows as f64,
    )?;
    // Reserved up to a bound: a corrupt count must not allocate by itself;
    // the entries actually read grow the vector.
    let mut triplets: Vec<(usize, usize, f64)> = Vec::with_capacity(entries.min(1 << 16));
    let expect = if header.field == Field::Pattern { 2 } else { 3 };
    for _ in 0..entries {
        let Some((n, text)) = lines.data(false)? else {
            return Err(lines.error(
                None,
                format!(
                    "the file ends after {} of {entries} entries",
                    triplets.len()
                ),
            ));
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() != expect {
            return Err(lines.error(
                Some(n),
                format!(
                    "expected {expect} numbers ({}), got '{text}'",
                    if expect == 3 {
                        "row, column, value"
                    } else {
                        "row, column"
                    }
                ),
            ));
        }
        let i = index(lines, n, words[0], "row", rows)?;
        let j = index(lines, n, words[1], "column", cols)?;
        let v = if expect == 3 {
            number(lines, n, words[2], "value")?
        } else {
            1.0
        };
        match header.symmetry {
            Symmetry::General => triplets.push((i, j, v)),
            Symmetry::Symmetric | Symmetry::Skew => {
                if i < j {
                    return Err(lines.error(
                        Some(n),
                        format!("a symmetric file lists the lower triangle only, but ({}, {}) is above the diagonal", i + 1, j + 1),
                    ));
                }
                if header.symmetry == Symmetry::Skew && i == j {
                    return Err(
                        lines.error(Some(n), "a skew-symmetric matrix has no diagonal entries")
                    );
                }
                triplets.push((i, j, v));
                if i != j {
                    let mirrored = if header.symmetry == Symmetry::Skew {
                        -v
                    } else {
                        v
                    };
                    triplets.push((j, i, mirrored));
                }
            }
        }
    }
    if let Some((n, text)) = lines.data(false)? {
        return Err(lines.error(
            Some(n),
            format!("more entries than the {entries} announced: '{text}'"),
        ));
    }
    if rows == cols && triplets.iter().all(|&(i, j, _)| i == j) {
        let mut diagonal = vec![0.0; rows];
        for (i, _, v) in triplets {
            diagonal[i] += v;
        }
        return Ok(Matrix::Diagonal(diagonal));
    }
    Ok(Matrix::Sparse(Csr::from_triplets(rows, cols, triplets)))
}

/// An error at the size line unless `count` numbers (`None`: more than
/// `usize` holds) can be allocated for `what`, which needs `bytes`.
fn ensure_allocatable(
    lines: &Lines<impl BufRead>,
    size_at: usize,
    count: Option<usize>,
    what: &str,
    bytes: f64,
) -> Result<(), MatrixError> {
    match count {
        Some(count) if can_allocate::<f64>(count) => Ok(()),
        _ => Err(lines.error(
            Some(size_at),
            format!(
                "{what} needs {}, more than can be allocated",
                gigabytes(bytes)
            ),
        )),
    }
}

fn read_array(lines: &mut Lines<impl BufRead>, header: &Header) -> Result<Matrix, MatrixError> {
    let (size_at, sizes) = size_line(lines, 2)?;
    let (rows, cols) = (sizes[0], sizes[1]);
    if header.symmetry != Symmetry::General && rows != cols {
        return Err(lines.error(
            Some(size_at),
            format!("a symmetric matrix must be square, got {rows} x {cols}"),
        ));
    }
    let len = rows.checked_mul(cols);
    ensure_allocatable(
        lines,
        size_at,
        len,
        &format!("a dense {rows} x {cols} matrix"),
        8.0 * rows as f64 * cols as f64,
    )?;
    let mut data = vec![0.0; len.unwrap_or(0)];
    // Column-major; symmetric files give the lower triangle (diagonal
    // included, skew-symmetric: strictly lower).
    let mut slots = Vec::new();
    for j in 0..cols {
        let first = match header.symmetry {
            Symmetry::General => 0,
            Symmetry::Symmetric => j,
            Symmetry::Skew => j + 1,
        };
        for i in first..rows {
            slots.push((i, j));
        }
    }
    let total = slots.len();
    let mut read = 0;
    while read < total {
        let Some((n, text)) = lines.data(false)? else {
            return Err(lines.error(
                None,
                format!("the file ends after {read} of {total} values"),
            ));
        };
        for word in text.split_whitespace() {
            if read == total {
                return Err(lines.error(Some(n), format!("more than the {total} values expected")));
            }
            let v = number(lines, n, word, "value")?;
            let (i, j) = slots[read];
            data[i * cols + j] = v;
            if header.symmetry != Symmetry::General && i != j {
                data[j * cols + i] = if header.symmetry == Symmetry::Skew {
                    -v
                } else {
                    v
                };
            }
            read += 1;
        }
    }
    if let Some((n, text)) = lines.data(false)? {
        return Err(lines.error(
            Some(n),
            format!("more than the {total} values expected: '{text}'"),
        ));
    }
    Ok(Matrix::Dense { rows, cols, data })
}

fn open(path: &Path) -> Result<std::fs::File, MatrixError> {
    std::fs::File::open(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        };
        MatrixError::at(Some(path), None, format!("cannot open: {why}"))
    })
}

/// Reads a Matrix Market matrix file (see [`parse_matrix`]).
pub fn read_matrix(path: &Path) -> Result<Matrix, MatrixError> {
    parse_matrix(open(path)?, Some(path))
}

/// Reads a vector: one number per line (blank lines and lines starting
/// with `%` or `#` are skipped), or a Matrix Market `n × 1` / `1 × n`
/// array or coordinate file.
pub fn parse_vector(reader: impl Read, path: Option<&Path>) -> Result<Vec<f64>, MatrixError> {
    let mut buffered = BufReader::new(reader);
    let starts_mm = buffered
        .fill_buf()
        .map(|b| b.len() >= 2 && &b[..2] == b"%%")
        .unwrap_or(false);
    if starts_mm {
        return match parse_matrix(buffered, path)? {
            Matrix::Dense { rows, cols, data } if rows == 1 || cols == 1 => Ok(data),
            Matrix::Sparse(csr) if csr.rows() == 1 || csr.cols() == 1 => Ok(csr.to_dense()),
            Matrix::Diagonal(d) if d.len() == 1 => Ok(d),
            m => Err(MatrixError::at(
                path,
                None,
                format!(
                    "expected a vector (n x 1 or 1 x n), got a {} x {} matrix",
                    m.rows(),
                    m.cols()
                ),
            )),
        };
    }
    let mut lines = Lines::new(buffered, path);
    let mut values = Vec::new();
    while let Some((n, text)) = lines.data(true)? {
        let mut words = text.split_whitespace();
        let word = words.next().unwrap_or("");
        if let Some(extra) = words.next() {
            return Err(lines.error(
                Some(n),
                format!("expected one number per line, got '{word} {extra}...'"),
            ));
        }
        values.push(number(&lines, n, word, "value")?);
    }
    if values.is_empty() {
        return Err(lines.error(None, "the file has no numbers"));
    }
    Ok(values)
}

/// Reads a vector file (see [`parse_vector`]).
pub fn read_vector(path: &Path) -> Result<Vec<f64>, MatrixError> {
    parse_vector(open(path)?, Some(path))
}
