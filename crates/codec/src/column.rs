//! One numeric column: which samples have a value (NULL stays distinct from 0), and the values,
//! as integers at the field's precision, stored constant, as deltas or as deltas of deltas,
//! whichever is shortest. A float column whose values do not fit its precision's integers is
//! stored as raw `f64` bits instead, so nothing is ever changed beyond the stated precision.

use crate::bytes::{unzigzag, zigzag, Reader, Writer};
use crate::Error;

const ALL: u8 = 0;
const NONE: u8 = 1;
const BITMAP: u8 = 2;

const CONST: u8 = 0;
const DELTA: u8 = 1;
const DOD: u8 = 2;
const RAW_F64: u8 = 3;

/// Largest scaled magnitude kept as an integer: every integer below 2^53 is an exact `f64`.
const MAX_SCALED: f64 = 9_007_199_254_740_992.0;

/// Writes which of the `values` are present, then the present integers.
pub fn put_ints(w: &mut Writer, values: &[Option<u64>]) {
    put_presence(w, values.iter().map(Option::is_some));
    let ints: Vec<i64> = values.iter().flatten().map(|v| *v as i64).collect();
    put_stream(w, &ints);
}

/// Reads `n` values written by [`put_ints`].
pub fn get_ints(r: &mut Reader<'_>, n: usize) -> Result<Vec<Option<u64>>, Error> {
    let present = get_presence(r, n)?;
    let k = present.iter().filter(|p| **p).count();
    let mut ints = get_stream(r, k)?.into_iter();
    Ok(present
        .into_iter()
        .map(|p| if p { ints.next().map(|v| v as u64) } else { None })
        .collect())
}

/// Writes floats at `scale` steps per unit (100: to 0.01), or as raw bits when one of them
/// cannot be scaled exactly into the integer range.
pub fn put_floats(w: &mut Writer, values: &[Option<f64>], scale: f64) {
    put_presence(w, values.iter().map(Option::is_some));
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let scaled: Option<Vec<i64>> = present
        .iter()
        .map(|v| {
            let s = (v * scale).round();
            (s.is_finite() && s.abs() < MAX_SCALED).then_some(s as i64)
        })
        .collect();
    match scaled {
        Some(ints) => put_stream(w, &ints),
        None => {
            w.u8(RAW_F64);
            present.iter().for_each(|v| w.bytes(&v.to_bits().to_le_bytes()));
        }
    }
}

/// Reads `n` values written by [`put_floats`] with the same `scale`.
pub fn get_floats(r: &mut Reader<'_>, n: usize, scale: f64) -> Result<Vec<Option<f64>>, Error> {
    let present = get_presence(r, n)?;
    let k = present.iter().filter(|p| **p).count();
    let values: Vec<f64> = if r.peek()? == RAW_F64 {
        r.u8()?;
        (0..k)
            .map(|_| {
                let b = r.take(8)?;
                Ok(f64::from_bits(u64::from_le_bytes(b.try_into().expect("8 bytes"))))
            })
            .collect::<Result<_, Error>>()?
    } else {
        get_stream(r, k)?.into_iter().map(|v| v as f64 / scale).collect()
    };
    let mut it = values.into_iter();
    Ok(present.into_iter().map(|p| if p { it.next() } else { None }).collect())
}

/// Steps over `n` values written by [`put_ints`] without decoding them.
pub fn skip_ints(r: &mut Reader<'_>, n: usize) -> Result<(), Error> {
    let k = skip_presence(r, n)?;
    skip_stream(r, k)
}

/// Steps over `n` values written by [`put_floats`] without decoding them; how many of them
/// are present.
pub fn skip_floats(r: &mut Reader<'_>, n: usize) -> Result<usize, Error> {
    let k = skip_presence(r, n)?;
    if r.peek()? == RAW_F64 {
        r.u8()?;
        r.take(k.checked_mul(8).ok_or(Error::Malformed("column too long"))?)?;
    } else {
        skip_stream(r, k)?;
    }
    Ok(k)
}

/// Steps over the presence of `n` values; how many are present.
fn skip_presence(r: &mut Reader<'_>, n: usize) -> Result<usize, Error> {
    match r.u8()? {
        ALL => Ok(n),
        NONE => Ok(0),
        BITMAP => {
            let bits = r.take(n.div_ceil(8))?;
            let all: usize = bits.iter().map(|b| b.count_ones() as usize).sum();
            // bits past the n-th are never set by the writer, but do not count them
            let extra = match n % 8 {
                0 => 0,
                used => (bits[bits.len() - 1] >> used).count_ones() as usize,
            };
            Ok(all - extra)
        }
        _ => Err(Error::Malformed("unknown presence mode")),
    }
}

/// Steps over `k` integers written by [`put_stream`].
fn skip_stream(r: &mut Reader<'_>, k: usize) -> Result<(), Error> {
    let mode = r.u8()?;
    if k == 0 {
        return Ok(());
    }
    r.ivar()?;
    let planes = match mode {
        CONST => return Ok(()),
        DELTA => k - 1,
        DOD if k >= 2 => {
            r.ivar()?;
            k - 2
        }
        _ => return Err(Error::Malformed("unknown integer stream mode")),
    };
    let width = usize::from(r.u8()?);
    if width > 8 {
        return Err(Error::Malformed("plane width over 8 bytes"));
    }
    r.take(width * planes)?;
    Ok(())
}

/// Writes the presence of `n` values: all, none, or a bitmap.
pub fn put_presence(w: &mut Writer, present: impl Iterator<Item = bool> + Clone) {
    let (n, k) = present.clone().fold((0, 0), |(n, k), p| (n + 1, k + usize::from(p)));
    if k == n {
        w.u8(ALL);
    } else if k == 0 {
        w.u8(NONE);
    } else {
        w.u8(BITMAP);
        let mut byte = 0u8;
        for (i, p) in present.enumerate() {
            byte |= u8::from(p) << (i % 8);
            if i % 8 == 7 {
                w.u8(byte);
                byte = 0;
            }
        }
        if n % 8 != 0 {
            w.u8(byte);
        }
    }
}

/// Reads the presence of `n` values.
pub fn get_presence(r: &mut Reader<'_>, n: usize) -> Result<Vec<bool>, Error> {
    match r.u8()? {
        ALL => Ok(vec![true; n]),
        NONE => Ok(vec![false; n]),
        BITMAP => {
            let bits = r.take(n.div_ceil(8))?;
            Ok((0..n).map(|i| bits[i / 8] >> (i % 8) & 1 == 1).collect())
        }
        _ => Err(Error::Malformed("unknown presence mode")),
    }
}

/// Writes integers constant, as deltas or as deltas of deltas, whichever is shortest; deltas
/// as zigzag byte planes (see [`put_planes`]). All arithmetic wraps, so every `i64` sequence
/// round-trips.
pub fn put_stream(w: &mut Writer, v: &[i64]) {
    let Some(&first) = v.first() else {
        w.u8(CONST);
        return;
    };
    if v.iter().all(|x| *x == first) {
        w.u8(CONST);
        w.ivar(first);
        return;
    }
    let deltas: Vec<u64> = v.windows(2).map(|p| zigzag(p[1].wrapping_sub(p[0]))).collect();
    let dods: Vec<u64> = v
        .windows(3)
        .map(|p| zigzag(p[2].wrapping_sub(p[1]).wrapping_sub(p[1].wrapping_sub(p[0]))))
        .collect();
    let cost = |xs: &[u64]| xs.iter().map(|x| 64 - x.leading_zeros()).sum::<u32>();
    if cost(&dods) < cost(&deltas) {
        w.u8(DOD);
        w.ivar(first);
        w.ivar(v[1].wrapping_sub(first));
        put_planes(w, &dods);
    } else {
        w.u8(DELTA);
        w.ivar(first);
        put_planes(w, &deltas);
    }
}

/// Reads `k` integers written by [`put_stream`].
pub fn get_stream(r: &mut Reader<'_>, k: usize) -> Result<Vec<i64>, Error> {
    let mode = r.u8()?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let first = r.ivar()?;
    let mut out = Vec::with_capacity(k);
    out.push(first);
    match mode {
        CONST => out.resize(k, first),
        DELTA => {
            let mut x = first;
            for z in get_planes(r, k - 1)? {
                x = x.wrapping_add(unzigzag(z));
                out.push(x);
            }
        }
        DOD if k >= 2 => {
            let mut d = r.ivar()?;
            let mut x = first.wrapping_add(d);
            out.push(x);
            for z in get_planes(r, k - 2)? {
                d = d.wrapping_add(unzigzag(z));
                x = x.wrapping_add(d);
                out.push(x);
            }
        }
        _ => return Err(Error::Malformed("unknown integer stream mode")),
    }
    Ok(out)
}

/// Unsigned values as byte planes: the width in bytes of the largest, then every value's
/// lowest byte, then every value's next byte, and so on, so that the general compressor sees
/// the mostly-zero high bytes of small deltas together.
fn put_planes(w: &mut Writer, v: &[u64]) {
    let max = v.iter().copied().max().unwrap_or(0);
    let width = (64 - max.leading_zeros() as usize).div_ceil(8);
    w.u8(width as u8);
    for b in 0..width {
        for x in v {
            w.u8((x >> (8 * b)) as u8);
        }
    }
}

fn get_planes(r: &mut Reader<'_>, k: usize) -> Result<Vec<u64>, Error> {
    let width = usize::from(r.u8()?);
    if width > 8 {
        return Err(Error::Malformed("plane width over 8 bytes"));
    }
    let mut out = vec![0u64; k];
    for b in 0..width {
        let plane = r.take(k)?;
        for (x, byte) in out.iter_mut().zip(plane) {
            *x |= u64::from(*byte) << (8 * b);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints_round_trip(v: &[Option<u64>]) {
        let mut w = Writer::default();
        put_ints(&mut w, v);
        let mut r = Reader::new(&w.buf);
        assert_eq!(get_ints(&mut r, v.len()).unwrap(), v);
        assert!(r.is_done());
        // skipping steps over exactly the column's bytes
        w.u8(0xAB);
        let mut r = Reader::new(&w.buf);
        skip_ints(&mut r, v.len()).unwrap();
        assert_eq!(r.u8().unwrap(), 0xAB);
        assert!(r.is_done());
    }

    fn floats_skip(v: &[Option<f64>]) {
        let mut w = Writer::default();
        put_floats(&mut w, v, 100.0);
        w.u8(0xAB);
        let mut r = Reader::new(&w.buf);
        skip_floats(&mut r, v.len()).unwrap();
        assert_eq!(r.u8().unwrap(), 0xAB);
        assert!(r.is_done());
    }

    #[test]
    fn integer_columns_keep_nulls_and_extremes() {
        ints_round_trip(&[]);
        ints_round_trip(&[None, None]);
        ints_round_trip(&[Some(5); 9]);
        ints_round_trip(&[
            Some(0),
            None,
            Some(u64::MAX),
            Some(1),
            None,
            Some(1 << 63),
            Some(0),
            Some(7),
            Some(8),
        ]);
        ints_round_trip(&(0..100).map(|i| Some(1_000_000 + i * 1000)).collect::<Vec<_>>());
        ints_round_trip(&(0..100).map(|i| Some(i * i)).collect::<Vec<_>>()); // deltas of deltas
        ints_round_trip(&(0..13).map(|i| (i % 3 == 0).then_some(i)).collect::<Vec<_>>());
    }

    #[test]
    fn float_columns_are_skipped_whole() {
        floats_skip(&[]);
        floats_skip(&[Some(1.5); 4]);
        floats_skip(&[
            Some(12.34),
            None,
            Some(0.0),
            Some(99.99),
            Some(-3.5),
            None,
            None,
            Some(1.0),
            Some(7.0),
        ]);
        floats_skip(&[Some(1.0e300), None, Some(2.5)]);
        floats_skip(&(0..50).map(|i| Some(f64::from(i) * 0.37)).collect::<Vec<_>>());
    }

    #[test]
    fn floats_keep_their_precision_or_fall_back_to_raw_bits() {
        let v = [Some(12.34), None, Some(0.0), Some(99.99), Some(-3.5)];
        let mut w = Writer::default();
        put_floats(&mut w, &v, 100.0);
        assert_eq!(get_floats(&mut Reader::new(&w.buf), 5, 100.0).unwrap(), v);

        // beyond the precision: rounded to it
        let mut w = Writer::default();
        put_floats(&mut w, &[Some(12.345_6)], 100.0);
        assert_eq!(get_floats(&mut Reader::new(&w.buf), 1, 100.0).unwrap(), [Some(12.35)]);

        // too large to scale: kept exactly
        let v = [Some(1.0e300), Some(2.5)];
        let mut w = Writer::default();
        put_floats(&mut w, &v, 100.0);
        assert_eq!(get_floats(&mut Reader::new(&w.buf), 2, 100.0).unwrap(), v);
    }

    #[test]
    fn a_regular_series_costs_about_a_byte_per_value() {
        let v: Vec<i64> = (0..600).map(|i| 1_700_000_000_000 + i * 1000 + (i % 3)).collect();
        let mut w = Writer::default();
        put_stream(&mut w, &v);
        assert!(w.buf.len() < 615, "{}", w.buf.len());
        assert_eq!(get_stream(&mut Reader::new(&w.buf), 600).unwrap(), v);
    }
}
