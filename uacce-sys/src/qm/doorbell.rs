//! Doorbell value encoding (protocol doc §3).
//!
//! A doorbell is one 64-bit value. Its layout differs between QM v1 (register at MMIO 0x340) and v2+ (register at
//! MMIO 0x1000):
//!
//! | bits   | v1       | v2 / v3                        |
//! |--------|----------|--------------------------------|
//! | 0..15  | sqn      | 0..11 sqn, 12..15 cmd          |
//! | 16..31 | cmd      | "random data", always 0        |
//! | 32..47 | index    | index                          |
//! | 48..63 | priority | priority                       |

use super::QmVersion;

/// MMIO offset of the doorbell register on QM v1.
pub const DOORBELL_OFFSET_V1: usize = 0x340;
/// MMIO offset of the doorbell register on QM v2 and later.
pub const DOORBELL_OFFSET_V2: usize = 0x1000;

/// Largest queue number a v2+ doorbell carries (UADK masks the field to 10 bits).
pub const MAX_SQN_V2: u16 = 0x3FF;

/// What a doorbell tells the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoorbellCmd {
    /// New SQ tail: `index` is the next free SQ slot after the newly filled ones.
    Sq = 0,
    /// New CQ head: `index` is the next CQE the consumer will read.
    Cq = 1,
    /// Event queue head (kernel only).
    Eq = 2,
    /// Async event queue head (kernel only).
    Aeq = 3,
}

impl DoorbellCmd {
    fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            0 => Self::Sq,
            1 => Self::Cq,
            2 => Self::Eq,
            3 => Self::Aeq,
            _ => return None,
        })
    }
}

/// The fields of one doorbell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DoorbellFields {
    /// Queue number (`id` returned by `UACCE_CMD_QM_SET_QP_CTX`).
    pub sqn: u16,
    /// Command.
    pub cmd: DoorbellCmd,
    /// New SQ tail or CQ head.
    pub index: u16,
    /// 0, or 1 on a CQ doorbell to arm the completion interrupt.
    pub priority: u16,
}

/// A doorbell value that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DoorbellError {
    /// The command code is not one of SQ/CQ/EQ/AEQ.
    #[error("doorbell {0:#018x}: unknown command code")]
    UnknownCmd(u64),
    /// The v2 "random data" field (bits 16..31) is not zero.
    #[error("doorbell {0:#018x}: random-data field (bits 16..31) must be 0")]
    RandomNonZero(u64),
    /// The queue number does not fit the format.
    #[error("queue number {0} does not fit the doorbell format")]
    SqnTooLarge(u16),
}

/// Encode a doorbell for the given hardware generation.
///
/// Errors only if `sqn` does not fit the format (more than 10 bits on v2+).
pub fn encode_doorbell(version: QmVersion, f: DoorbellFields) -> Result<u64, DoorbellError> {
    let cmd = f.cmd as u64;
    let tail = (u64::from(f.index) << 32) | (u64::from(f.priority) << 48);
    match version {
        QmVersion::V1 => Ok(u64::from(f.sqn) | (cmd << 16) | tail),
        QmVersion::V2 | QmVersion::V3 => {
            if f.sqn > MAX_SQN_V2 {
                return Err(DoorbellError::SqnTooLarge(f.sqn));
            }
            Ok(u64::from(f.sqn) | (cmd << 12) | tail)
        }
    }
}

/// Decode a doorbell value (device side). Strict: unknown commands and a nonzero v2 random field are errors.
pub fn decode_doorbell(version: QmVersion, value: u64) -> Result<DoorbellFields, DoorbellError> {
    let index = (value >> 32) as u16;
    let priority = (value >> 48) as u16;
    let (sqn, code) = match version {
        QmVersion::V1 => (value as u16, (value >> 16) as u16),
        QmVersion::V2 | QmVersion::V3 => {
            if (value >> 16) & 0xFFFF != 0 {
                return Err(DoorbellError::RandomNonZero(value));
            }
            ((value & 0xFFF) as u16, ((value >> 12) & 0xF) as u16)
        }
    };
    let cmd = DoorbellCmd::from_code(code).ok_or(DoorbellError::UnknownCmd(value))?;
    Ok(DoorbellFields {
        sqn,
        cmd,
        index,
        priority,
    })
}

/// MMIO offset of the doorbell register for a hardware generation.
pub fn doorbell_offset(version: QmVersion) -> usize {
    match version {
        QmVersion::V1 => DOORBELL_OFFSET_V1,
        QmVersion::V2 | QmVersion::V3 => DOORBELL_OFFSET_V2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(sqn: u16, cmd: DoorbellCmd, index: u16, priority: u16) -> DoorbellFields {
        DoorbellFields {
            sqn,
            cmd,
            index,
            priority,
        }
    }

    /// The worked examples of protocol doc §3 (sqn 5, index 1).
    #[test]
    fn protocol_doc_examples() {
        use DoorbellCmd::*;
        let v2 = QmVersion::V2;
        assert_eq!(
            encode_doorbell(v2, f(5, Sq, 1, 0)).unwrap(),
            0x0000_0001_0000_0005
        );
        assert_eq!(
            encode_doorbell(v2, f(5, Cq, 1, 0)).unwrap(),
            0x0000_0001_0000_1005
        );
        assert_eq!(
            encode_doorbell(v2, f(5, Cq, 1, 1)).unwrap(),
            0x0001_0001_0000_1005
        );
        let v1 = QmVersion::V1;
        assert_eq!(
            encode_doorbell(v1, f(5, Sq, 1, 0)).unwrap(),
            0x0000_0001_0000_0005
        );
        assert_eq!(
            encode_doorbell(v1, f(5, Cq, 1, 1)).unwrap(),
            0x0001_0001_0001_0005
        );
    }

    #[test]
    fn round_trip_all_versions() {
        for version in [QmVersion::V1, QmVersion::V2, QmVersion::V3] {
            for cmd in [
                DoorbellCmd::Sq,
                DoorbellCmd::Cq,
                DoorbellCmd::Eq,
                DoorbellCmd::Aeq,
            ] {
                for (sqn, index, prio) in [(0, 0, 0), (1023, 1023, 1), (7, 65535, 1)] {
                    let fields = f(sqn, cmd, index, prio);
                    let value = encode_doorbell(version, fields).unwrap();
                    assert_eq!(decode_doorbell(version, value).unwrap(), fields);
                }
            }
        }
    }

    #[test]
    fn strict_decode() {
        assert_eq!(
            decode_doorbell(QmVersion::V2, 0x0000_0001_0001_0005),
            Err(DoorbellError::RandomNonZero(0x0000_0001_0001_0005))
        );
        assert_eq!(
            decode_doorbell(QmVersion::V2, 0x5005),
            Err(DoorbellError::UnknownCmd(0x5005))
        );
        assert_eq!(
            decode_doorbell(QmVersion::V1, 0x0004_0005),
            Err(DoorbellError::UnknownCmd(0x0004_0005))
        );
        assert_eq!(
            encode_doorbell(QmVersion::V2, f(1024, DoorbellCmd::Sq, 0, 0)),
            Err(DoorbellError::SqnTooLarge(1024))
        );
    }

    #[test]
    fn offsets() {
        assert_eq!(doorbell_offset(QmVersion::V1), 0x340);
        assert_eq!(doorbell_offset(QmVersion::V3), 0x1000);
    }
}
