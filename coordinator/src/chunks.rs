//! A study result sent as a stream: the result without its tables, then each table's Arrow
//! bytes in chunks, so that no single message grows with the result.

use cdg_shared::proto::v1::run_event::Event;
use cdg_shared::proto::v1::{ResultChunk, RunEvent, StudyResult};

/// Bytes of Arrow IPC per chunk.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// The events that carry `result`: its header, then its tables' chunks in order.
pub fn result_events(mut result: StudyResult) -> Vec<RunEvent> {
    let tables: Vec<Vec<u8>> = result
        .queries
        .iter_mut()
        .chain(result.indicators.iter_mut())
        .map(|q| std::mem::take(&mut q.arrow_ipc))
        .collect();
    let mut events = vec![RunEvent {
        event: Some(Event::Result(result)),
    }];
    for (i, table) in tables.iter().enumerate() {
        for data in table.chunks(CHUNK_BYTES) {
            events.push(RunEvent {
                event: Some(Event::Chunk(ResultChunk {
                    query_index: i as u32,
                    data: data.to_vec(),
                })),
            });
        }
    }
    events
}

/// Puts a streamed result back together.
#[derive(Default)]
pub struct Assembler {
    result: Option<StudyResult>,
}

impl Assembler {
    /// Takes the result header or a chunk; progress events are not for it.
    pub fn take(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Result(r) => {
                self.result = Some(r);
                Ok(())
            }
            Event::Chunk(c) => {
                let result = self
                    .result
                    .as_mut()
                    .ok_or("a result chunk came before the result")?;
                let index = c.query_index as usize;
                let queries = result.queries.len();
                let table = if index < queries {
                    result.queries.get_mut(index)
                } else {
                    result.indicators.get_mut(index - queries)
                };
                let query =
                    table.ok_or_else(|| format!("a chunk for table {} of none", c.query_index))?;
                query.arrow_ipc.extend_from_slice(&c.data);
                Ok(())
            }
            Event::Progress(_) => Ok(()),
        }
    }

    /// The whole result, once the stream has ended.
    pub fn finish(self) -> Option<StudyResult> {
        self.result
    }
}

#[cfg(test)]
mod tests {
    use cdg_shared::proto::v1::QueryResult;

    use super::*;

    #[test]
    fn a_large_result_goes_in_chunks_and_comes_back_whole() {
        let big: Vec<u8> = (0..(CHUNK_BYTES * 2 + 10)).map(|i| i as u8).collect();
        let result = StudyResult {
            study_id: "s".into(),
            queries: vec![
                QueryResult {
                    name: "a".into(),
                    title: "A".into(),
                    arrow_ipc: big.clone(),
                },
                QueryResult {
                    name: "b".into(),
                    title: "B".into(),
                    arrow_ipc: vec![1, 2, 3],
                },
            ],
            indicators: vec![QueryResult {
                name: "ratio".into(),
                title: "Ratio".into(),
                arrow_ipc: vec![4, 5],
            }],
            ..Default::default()
        };
        let events = result_events(result.clone());
        assert_eq!(events.len(), 1 + 3 + 1 + 1);
        let mut assembler = Assembler::default();
        for e in events {
            assembler.take(e.event.unwrap()).unwrap();
        }
        assert_eq!(assembler.finish().unwrap(), result);
        let mut early = Assembler::default();
        let chunk = Event::Chunk(ResultChunk {
            query_index: 0,
            data: vec![],
        });
        assert!(early.take(chunk).is_err());
    }
}
