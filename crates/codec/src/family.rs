//! A list-valued field over a chunk's samples (per-core values, interfaces, filesystems,
//! temperature sensors, containers): the distinct keys, each sample's layout (which keys it
//! lists, in its own order, or no list at all), and per key the positions of its entries, so
//! that each key's values become columns of their own.

use std::collections::HashMap;
use std::hash::Hash;

use crate::bytes::{Reader, Writer};
use crate::column;
use crate::Error;

/// List entries (over all samples) a decoder builds at most: 64 per sample at the most samples
/// a decoder accepts. A corrupt layout index cannot make it copy a huge layout per sample.
const MAX_ENTRIES: usize = 64 * crate::MAX_SAMPLES;

/// Keys and layouts of one list field; built from the samples' key lists.
#[derive(Debug, Default)]
pub struct Family<K> {
    pub keys: Vec<K>,
    /// Per sample: its layout as key indices, `None` when the sample has no list at all.
    pub layouts: Vec<Option<Vec<u32>>>,
}

/// Where each key's entries are: per key, (sample index, position in that sample's list).
pub type Entries = Vec<Vec<(usize, usize)>>;

impl<K: Clone + Eq + Hash> Family<K> {
    /// `lists[i]`: the keys sample `i` lists, in order (`None`: no list).
    pub fn build<'a, I>(lists: impl Iterator<Item = Option<I>>) -> Self
    where
        I: Iterator<Item = &'a K>,
        K: 'a,
    {
        let mut index: HashMap<K, u32> = HashMap::new();
        let mut fam = Family {
            keys: Vec::new(),
            layouts: Vec::new(),
        };
        for list in lists {
            let layout = list.map(|keys| {
                keys.map(|k| {
                    *index.entry(k.clone()).or_insert_with(|| {
                        fam.keys.push(k.clone());
                        (fam.keys.len() - 1) as u32
                    })
                })
                .collect()
            });
            fam.layouts.push(layout);
        }
        fam
    }
}

/// Steps over what [`Family::put`] wrote for `n` samples (stepping over each key with
/// `skip_key`); how many entries each key has, in key order.
pub fn skip(
    r: &mut Reader<'_>,
    n: usize,
    limit: usize,
    mut skip_key: impl FnMut(&mut Reader<'_>) -> Result<(), Error>,
) -> Result<Vec<usize>, Error> {
    let nkeys = r.len(limit)?;
    for _ in 0..nkeys {
        skip_key(r)?;
    }
    let (distinct, per_sample) = layouts(r, n, nkeys, limit)?;
    // how many samples use each layout, then each layout's keys that many times
    let mut uses = vec![0usize; distinct.len()];
    for l in per_sample.into_iter().flatten() {
        uses[l] += 1;
    }
    let mut counts = vec![0usize; nkeys];
    for (layout, uses) in distinct.iter().zip(uses) {
        for k in layout {
            counts[*k as usize] += uses;
        }
    }
    Ok(counts)
}

/// The distinct layouts (key indices) and each sample's layout index (`None`: no list).
type Layouts = (Vec<Vec<u32>>, Vec<Option<usize>>);

/// Reads the distinct layouts (key indices below `nkeys`) and each sample's layout index,
/// refusing more list entries in all than a chunk can hold.
fn layouts(r: &mut Reader<'_>, n: usize, nkeys: usize, limit: usize) -> Result<Layouts, Error> {
    let ndistinct = r.len(limit)?;
    let mut distinct = Vec::with_capacity(ndistinct);
    for _ in 0..ndistinct {
        let len = r.len(limit)?;
        let layout = (0..len)
            .map(|_| {
                let k = r.uvar()?;
                u32::try_from(k)
                    .ok()
                    .filter(|k| (*k as usize) < nkeys)
                    .ok_or(Error::Malformed("layout names an unknown key"))
            })
            .collect::<Result<Vec<u32>, Error>>()?;
        distinct.push(layout);
    }
    let mut entries = 0usize;
    let per_sample = column::get_ints(r, n)?
        .into_iter()
        .map(|l| {
            l.map(|l| {
                let i = usize::try_from(l)
                    .ok()
                    .filter(|i| *i < distinct.len())
                    .ok_or(Error::Malformed("unknown layout"))?;
                entries = entries.saturating_add(distinct[i].len());
                if entries > MAX_ENTRIES {
                    return Err(Error::Malformed("more list entries than a chunk can hold"));
                }
                Ok(i)
            })
            .transpose()
        })
        .collect::<Result<_, Error>>()?;
    Ok((distinct, per_sample))
}

impl<K> Family<K> {
    /// Per key, where its entries are (sample order).
    pub fn entries(&self) -> Entries {
        let mut out: Entries = vec![Vec::new(); self.keys.len()];
        for (i, layout) in self.layouts.iter().enumerate() {
            for (pos, k) in layout.iter().flatten().enumerate() {
                out[*k as usize].push((i, pos));
            }
        }
        out
    }

    /// Writes the keys (with `put_key`) and the layouts: the distinct layouts once, then per
    /// sample the index of its layout.
    pub fn put(&self, w: &mut Writer, mut put_key: impl FnMut(&mut Writer, &K)) {
        w.len(self.keys.len());
        self.keys.iter().for_each(|k| put_key(w, k));
        let mut distinct: HashMap<&[u32], u64> = HashMap::new();
        let mut order: Vec<&[u32]> = Vec::new();
        let per_sample: Vec<Option<u64>> = self
            .layouts
            .iter()
            .map(|l| {
                l.as_deref().map(|l| {
                    *distinct.entry(l).or_insert_with(|| {
                        order.push(l);
                        (order.len() - 1) as u64
                    })
                })
            })
            .collect();
        w.len(order.len());
        for l in order {
            w.len(l.len());
            l.iter().for_each(|k| w.uvar(u64::from(*k)));
        }
        column::put_ints(w, &per_sample);
    }

    /// Reads what [`Family::put`] wrote for `n` samples.
    pub fn get(
        r: &mut Reader<'_>,
        n: usize,
        limit: usize,
        mut get_key: impl FnMut(&mut Reader<'_>) -> Result<K, Error>,
    ) -> Result<Self, Error> {
        let nkeys = r.len(limit)?;
        let keys = (0..nkeys).map(|_| get_key(r)).collect::<Result<Vec<K>, Error>>()?;
        // each sample gets its own copy of its layout (their total is bounded by `layouts`)
        let (distinct, per_sample) = layouts(r, n, nkeys, limit)?;
        let layouts = per_sample.into_iter().map(|l| l.map(|i| distinct[i].clone())).collect();
        Ok(Family { keys, layouts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One key, one layout listing it `len` times, used by every one of `n` samples.
    fn repeated(len: usize, n: usize) -> Vec<u8> {
        let mut w = Writer::default();
        w.len(1);
        w.uvar(7); // the key
        w.len(1);
        w.len(len);
        (0..len).for_each(|_| w.uvar(0));
        column::put_ints(&mut w, &vec![Some(0); n]);
        w.buf
    }

    #[test]
    fn reading_and_stepping_over_agree_on_the_entries() {
        let bytes = repeated(3, 5);
        let fam: Family<u64> = Family::get(&mut Reader::new(&bytes), 5, 100, |r| r.uvar()).unwrap();
        assert_eq!(fam.keys, [7]);
        assert_eq!(fam.entries()[0].len(), 15);
        assert_eq!(
            skip(&mut Reader::new(&bytes), 5, 100, |r| r.uvar().map(drop)).unwrap(),
            [15]
        );
    }

    #[test]
    fn a_layout_repeated_beyond_what_a_chunk_holds_is_refused_at_once() {
        // a few kilobytes that would name a billion entries
        let n = crate::MAX_SAMPLES;
        let bytes = repeated(1000, n);
        assert!(bytes.len() < 2000);
        let limit = crate::MAX_KEYS;
        assert!(Family::<u64>::get(&mut Reader::new(&bytes), n, limit, |r| r.uvar()).is_err());
        assert!(skip(&mut Reader::new(&bytes), n, limit, |r| r.uvar().map(drop)).is_err());
    }
}
