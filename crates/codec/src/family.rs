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
    let ndistinct = r.len(limit)?;
    let mut distinct: Vec<Vec<usize>> = Vec::with_capacity(ndistinct);
    for _ in 0..ndistinct {
        let len = r.len(limit)?;
        let layout = (0..len)
            .map(|_| {
                usize::try_from(r.uvar()?)
                    .ok()
                    .filter(|k| *k < nkeys)
                    .ok_or(Error::Malformed("layout names an unknown key"))
            })
            .collect::<Result<Vec<usize>, Error>>()?;
        distinct.push(layout);
    }
    let mut counts = vec![0usize; nkeys];
    for l in column::get_ints(r, n)?.into_iter().flatten() {
        let layout = usize::try_from(l)
            .ok()
            .and_then(|l| distinct.get(l))
            .ok_or(Error::Malformed("unknown layout"))?;
        for k in layout {
            counts[*k] += 1;
        }
    }
    Ok(counts)
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
        // each sample gets its own copy of its layout: bound their total before copying
        let mut entries = 0usize;
        let layouts = column::get_ints(r, n)?
            .into_iter()
            .map(|l| {
                l.map(|l| {
                    let layout = usize::try_from(l)
                        .ok()
                        .and_then(|l| distinct.get(l))
                        .ok_or(Error::Malformed("unknown layout"))?;
                    entries = entries.saturating_add(layout.len());
                    if entries > MAX_ENTRIES {
                        return Err(Error::Malformed("more list entries than a chunk can hold"));
                    }
                    Ok(layout.clone())
                })
                .transpose()
            })
            .collect::<Result<_, Error>>()?;
        Ok(Family { keys, layouts })
    }
}
