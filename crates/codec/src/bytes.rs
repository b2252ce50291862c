//! The byte level: LEB128 varints, zigzag signed integers, length-prefixed strings, and a
//! reader that fails (never panics) on truncated or malformed input.

use crate::Error;

/// Appends to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn uvar(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn ivar(&mut self, v: i64) {
        self.uvar(zigzag(v));
    }

    pub fn len(&mut self, n: usize) {
        self.uvar(n as u64);
    }

    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

/// Reads what [`Writer`] wrote.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, at: 0 }
    }

    pub fn peek(&self) -> Result<u8, Error> {
        self.buf.get(self.at).copied().ok_or(Error::Truncated)
    }

    pub fn is_done(&self) -> bool {
        self.at == self.buf.len()
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        let b = *self.buf.get(self.at).ok_or(Error::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    pub fn uvar(&mut self) -> Result<u64, Error> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    return Err(Error::Malformed("varint overflows 64 bits"));
                }
                return Ok(v);
            }
        }
        Err(Error::Malformed("varint longer than 10 bytes"))
    }

    pub fn ivar(&mut self) -> Result<i64, Error> {
        Ok(unzigzag(self.uvar()?))
    }

    /// A count, refused beyond `max` (so a corrupt length cannot make the decoder allocate
    /// without bound).
    pub fn len(&mut self, max: usize) -> Result<usize, Error> {
        let n = self.uvar()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= max)
            .ok_or(Error::Malformed("count out of range"))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.buf.get(self.at..end).ok_or(Error::Truncated)?;
        self.at = end;
        Ok(s)
    }

    pub fn str(&mut self) -> Result<String, Error> {
        let n = self.len(self.buf.len())?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::Malformed("string is not UTF-8"))
    }

    /// Steps over a string written by [`Writer::str`].
    pub fn skip_str(&mut self) -> Result<(), Error> {
        let n = self.len(self.buf.len())?;
        self.take(n).map(drop)
    }
}

pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        let mut w = Writer::default();
        let ints = [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40];
        let uints = [0, 127, 128, u64::MAX, 1 << 63];
        ints.iter().for_each(|v| w.ivar(*v));
        uints.iter().for_each(|v| w.uvar(*v));
        w.str("héllo");
        let mut r = Reader::new(&w.buf);
        for v in ints {
            assert_eq!(r.ivar().unwrap(), v);
        }
        for v in uints {
            assert_eq!(r.uvar().unwrap(), v);
        }
        assert_eq!(r.str().unwrap(), "héllo");
        assert!(r.is_done());
        assert_eq!(r.u8(), Err(Error::Truncated));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(Reader::new(&[0xff; 11]).uvar().is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                .uvar()
                .is_err()
        );
        assert_eq!(Reader::new(&[0x80]).uvar(), Err(Error::Truncated));
        assert!(Reader::new(&[5, b'a']).str().is_err());
        assert!(Reader::new(&[0xff, 0x01]).len(10).is_err());
    }
}
