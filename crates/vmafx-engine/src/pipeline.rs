//! The scoring pipeline: runs the registered extractors over frame pairs, in parallel across
//! frames, and merges their values into a [`FeatureCollector`] in exactly the order a
//! single-threaded libvmaf run writes them, so output is identical for every thread count.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::collector::FeatureCollector;
use crate::cpu::SimdLevel;
use crate::feature::shared::{Frame, Shared};
use crate::feature::{find_extractor, ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::OptionValues;
use crate::picture::Picture;
use crate::EngineError;

/// A reference picture and its distorted counterpart.
#[derive(Debug, Clone)]
pub struct FramePair {
    /// The reference.
    pub reference: Picture,
    /// The distorted picture.
    pub distorted: Picture,
    /// What extractors computed from this pair for each other; cleared whenever the pair is
    /// pushed with new pictures.
    shared: Shared,
}

impl FramePair {
    /// The pair as extractors see it, with its shared intermediates.
    fn frame(&self) -> Frame<'_> {
        Frame::new(&self.reference, &self.distorted, &self.shared)
    }

    /// A zeroed pair of `geometry`.
    pub fn new(geometry: Geometry) -> Result<Self, EngineError> {
        let make = || {
            Picture::new(
                geometry.format,
                geometry.bit_depth,
                geometry.width,
                geometry.height,
            )
        };
        Ok(FramePair {
            reference: make()?,
            distorted: make()?,
            shared: Shared::default(),
        })
    }
}

/// One registered extractor: its description and options.
#[derive(Clone)]
struct Slot {
    info: &'static ExtractorInfo,
    options: OptionValues,
}

impl Slot {
    fn instantiate(
        &self,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Box<dyn FeatureExtractor>, EngineError> {
        (self.info.create)(&self.options, geometry, simd)
    }
}

/// Which extractors to run and how.
pub struct ScorerBuilder {
    geometry: Geometry,
    simd: SimdLevel,
    slots: Vec<Slot>,
    threads: usize,
    subsample: u32,
    fast_metrics: bool,
}

impl ScorerBuilder {
    /// Starts a configuration for pictures of `geometry`.
    pub fn new(geometry: Geometry) -> Self {
        ScorerBuilder {
            geometry,
            simd: SimdLevel::detect(),
            slots: Vec::new(),
            threads: 0,
            subsample: 1,
            fast_metrics: false,
        }
    }

    /// Registers extractor `name` with `options`. As in libvmaf, an extractor whose name and
    /// feature-parameter options equal an already registered one is not added twice.
    pub fn extractor(
        mut self,
        name: &str,
        options: &[(String, String)],
    ) -> Result<Self, EngineError> {
        let info = find_extractor(name)?;
        let options = OptionValues::parse(info.name, info.options, options)?;
        let key = options.feature_name(info.name);
        let duplicate = self
            .slots
            .iter()
            .any(|s| s.info.name == info.name && s.options.feature_name(s.info.name) == key);
        if !duplicate {
            self.slots.push(Slot { info, options });
        }
        Ok(self)
    }

    /// The slot an extractor registration would use: its index among the registered
    /// extractors, counting one that [`ScorerBuilder::extractor`] merged with an equal one.
    /// `None` when nothing equal is registered yet.
    pub fn slot_of(
        &self,
        name: &str,
        options: &[(String, String)],
    ) -> Result<Option<usize>, EngineError> {
        let info = find_extractor(name)?;
        let options = OptionValues::parse(info.name, info.options, options)?;
        let key = options.feature_name(info.name);
        Ok(self
            .slots
            .iter()
            .position(|s| s.info.name == info.name && s.options.feature_name(s.info.name) == key))
    }

    /// The SIMD level every kernel of this scorer runs at (default: the best this CPU has).
    /// [`ScorerBuilder::build`] refuses a level the CPU lacks.
    pub fn simd(mut self, level: SimdLevel) -> Self {
        self.simd = level;
        self
    }

    /// Worker threads for per-frame extraction; 0 or 1 runs everything on the calling thread.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Computes non-temporal features only on frames whose index is a multiple of `n`.
    pub fn subsample(mut self, n: u32) -> Self {
        self.subsample = n.max(1);
        self
    }

    /// Lets extractors that have an inexact fast kernel use it (`--fast-metrics`; only
    /// `ciede` has one). Off by default: every value is then libvmaf's to the last digit.
    pub fn fast_metrics(mut self, on: bool) -> Self {
        self.fast_metrics = on;
        self
    }

    /// Instantiates the extractors and, with two or more threads, starts the workers.
    pub fn build(mut self) -> Result<Scorer, EngineError> {
        let simd = self.simd.require()?;
        for slot in &mut self.slots {
            slot.options.set_fast_metrics(self.fast_metrics);
        }
        let mut temporal = Vec::new();
        let mut spatial_slots = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.info.temporal {
                temporal.push((i, slot.instantiate(self.geometry, simd)?));
            } else {
                spatial_slots.push((i, slot.clone()));
            }
        }
        let spatial = if self.threads <= 1 || spatial_slots.is_empty() {
            let instances = spatial_slots
                .iter()
                .map(|(i, s)| Ok((*i, s.instantiate(self.geometry, simd)?)))
                .collect::<Result<Vec<_>, EngineError>>()?;
            Spatial::Inline(instances)
        } else {
            Spatial::Threaded(WorkerPool::start(
                self.threads,
                &spatial_slots,
                self.geometry,
                simd,
            )?)
        };
        Ok(Scorer {
            slot_count: self.slots.len(),
            geometry: self.geometry,
            simd,
            temporal,
            spatial,
            pending: BTreeMap::new(),
            next_merge: 0,
            pushed: 0,
            subsample: self.subsample,
            collector: FeatureCollector::new(),
            spare: Vec::new(),
            outputs: vec![Vec::new(); self.slots.len()],
        })
    }
}

/// Values produced for one frame, per slot, waiting for the frame's spatial work to finish.
struct PendingFrame {
    per_slot: Vec<Vec<FeatureValue>>,
    spatial_done: bool,
}

type SpatialResult = Result<(u32, Vec<(usize, Vec<FeatureValue>)>, Arc<FramePair>), EngineError>;

struct Job {
    index: u32,
    pair: Arc<FramePair>,
}

/// Threads that each own one instance of every non-temporal extractor.
struct WorkerPool {
    jobs: Option<Sender<Job>>,
    results: Receiver<SpatialResult>,
    handles: Vec<JoinHandle<()>>,
    in_flight: usize,
    max_in_flight: usize,
}

impl WorkerPool {
    fn start(
        threads: usize,
        slots: &[(usize, Slot)],
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
        let (result_tx, results) = mpsc::channel::<SpatialResult>();
        let mut handles = Vec::with_capacity(threads);
        for _ in 0..threads {
            // Build instances up front so configuration errors surface before any frame.
            let mut instances = slots
                .iter()
                .map(|(i, s)| Ok((*i, s.instantiate(geometry, simd)?)))
                .collect::<Result<Vec<_>, EngineError>>()?;
            let job_rx = Arc::clone(&job_rx);
            let result_tx = result_tx.clone();
            handles.push(std::thread::spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let outcome = run_spatial(&mut instances, &job.pair, job.index)
                    .map(|values| (job.index, values, job.pair));
                if result_tx.send(outcome).is_err() {
                    return;
                }
            }));
        }
        Ok(WorkerPool {
            jobs: Some(job_tx),
            results,
            handles,
            in_flight: 0,
            // One pair queued behind each busy worker keeps them fed; the caller's read-ahead
            // thread holds one more, so the last queued slot would only cost memory.
            max_in_flight: (threads * 2 - 1).max(threads),
        })
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.jobs.take();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

enum Spatial {
    Inline(Vec<(usize, Box<dyn FeatureExtractor>)>),
    Threaded(WorkerPool),
}

fn run_spatial(
    instances: &mut [(usize, Box<dyn FeatureExtractor>)],
    pair: &FramePair,
    index: u32,
) -> Result<Vec<(usize, Vec<FeatureValue>)>, EngineError> {
    instances
        .iter_mut()
        .map(|(slot, extractor)| {
            let mut out = Vec::new();
            extractor.extract_frame(&pair.frame(), index, &mut out)?;
            Ok((*slot, out))
        })
        .collect()
}

/// Runs extractors over frame pairs pushed in order, and collects their values.
pub struct Scorer {
    slot_count: usize,
    geometry: Geometry,
    simd: SimdLevel,
    temporal: Vec<(usize, Box<dyn FeatureExtractor>)>,
    spatial: Spatial,
    pending: BTreeMap<u32, PendingFrame>,
    next_merge: u32,
    pushed: u32,
    subsample: u32,
    collector: FeatureCollector,
    spare: Vec<FramePair>,
    /// Names each slot has written, in first-write order.
    outputs: SlotOutputs,
}

impl Scorer {
    /// The picture geometry this scorer was built for.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The SIMD level this scorer's kernels run at.
    pub fn simd(&self) -> SimdLevel {
        self.simd
    }

    /// A pair the scorer has finished with, if there is one. It never allocates, so a reader
    /// thread can recycle a fixed set of pairs.
    pub fn take_finished(&mut self) -> Option<FramePair> {
        self.spare.pop()
    }

    /// Number of frame pairs pushed so far.
    pub fn frames_pushed(&self) -> u32 {
        self.pushed
    }

    /// Scores the next frame pair. With worker threads this returns before the frame's spatial
    /// features are done, blocking only to keep a bounded number of frames in flight.
    pub fn push(&mut self, mut pair: FramePair) -> Result<(), EngineError> {
        pair.reference.check_same_shape(&pair.distorted)?;
        // The pair may be a recycled one: what was shared belonged to its previous pictures.
        pair.shared.clear();
        let index = self.pushed;
        self.pushed += 1;
        let mut frame = PendingFrame {
            per_slot: vec![Vec::new(); self.slot_count],
            spatial_done: false,
        };
        for (slot, extractor) in &mut self.temporal {
            extractor.extract_frame(&pair.frame(), index, &mut frame.per_slot[*slot])?;
        }
        let wanted = self.subsample <= 1 || index.is_multiple_of(self.subsample);
        if let Spatial::Inline(instances) = &mut self.spatial {
            if wanted {
                for (slot, values) in run_spatial(instances, &pair, index)? {
                    frame.per_slot[slot] = values;
                }
            }
        }
        if !wanted || matches!(self.spatial, Spatial::Inline(_)) {
            frame.spatial_done = true;
            self.spare.push(pair);
            self.pending.insert(index, frame);
            return self.merge_ready();
        }
        while self.in_flight() >= self.max_in_flight() {
            self.receive_one()?;
        }
        self.pending.insert(index, frame);
        if let Spatial::Threaded(pool) = &mut self.spatial {
            let job = Job {
                index,
                pair: Arc::new(pair),
            };
            pool.jobs
                .as_ref()
                .ok_or_else(worker_died)?
                .send(job)
                .map_err(|_| worker_died())?;
            pool.in_flight += 1;
        }
        self.merge_ready()
    }

    fn in_flight(&self) -> usize {
        match &self.spatial {
            Spatial::Threaded(pool) => pool.in_flight,
            Spatial::Inline(_) => 0,
        }
    }

    fn max_in_flight(&self) -> usize {
        match &self.spatial {
            Spatial::Threaded(pool) => pool.max_in_flight,
            Spatial::Inline(_) => usize::MAX,
        }
    }

    /// Waits for one spatial result and files it.
    fn receive_one(&mut self) -> Result<(), EngineError> {
        let Spatial::Threaded(pool) = &mut self.spatial else {
            return Ok(());
        };
        let (index, values, pair) = pool.results.recv().map_err(|_| worker_died())??;
        pool.in_flight -= 1;
        if let Ok(pair) = Arc::try_unwrap(pair) {
            self.spare.push(pair);
        }
        let frame = self.pending.get_mut(&index).ok_or_else(|| {
            EngineError::PictureMismatch(format!("result for unknown frame {index}"))
        })?;
        for (slot, v) in values {
            frame.per_slot[slot] = v;
        }
        frame.spatial_done = true;
        self.merge_ready()
    }

    /// Appends finished frames to the collector in frame order, and slot order within a frame.
    fn merge_ready(&mut self) -> Result<(), EngineError> {
        while let Some(frame) = self.pending.get(&self.next_merge) {
            if !frame.spatial_done {
                break;
            }
            let frame = self
                .pending
                .remove(&self.next_merge)
                .ok_or_else(|| EngineError::PictureMismatch("pending frame vanished".into()))?;
            for (slot, values) in frame.per_slot.iter().enumerate() {
                for v in values {
                    self.collector.append_value(v)?;
                    note_output(&mut self.outputs[slot], &v.name);
                }
            }
            self.next_merge += 1;
        }
        Ok(())
    }

    /// Waits for all frames, flushes temporal extractors, and returns the collected values.
    pub fn finish(self) -> Result<FeatureCollector, EngineError> {
        Ok(self.finish_with_outputs()?.0)
    }

    /// [`Scorer::finish`], also returning the names each extractor slot wrote (indexed as
    /// [`ScorerBuilder::slot_of`] counts), in first-write order.
    pub fn finish_with_outputs(mut self) -> Result<(FeatureCollector, SlotOutputs), EngineError> {
        while self.in_flight() > 0 {
            self.receive_one()?;
        }
        self.merge_ready()?;
        // Only temporal extractors hold state across frames; spatial ones may run as several
        // instances on worker threads and must not need a flush.
        let mut flushed: Vec<Vec<FeatureValue>> = vec![Vec::new(); self.slot_count];
        for (slot, extractor) in &mut self.temporal {
            extractor.flush(&mut flushed[*slot])?;
        }
        for (slot, values) in flushed.iter().enumerate() {
            for v in values {
                self.collector.append_value(v)?;
                note_output(&mut self.outputs[slot], &v.name);
            }
        }
        for (_, extractor) in &self.temporal {
            for aggregate in extractor.aggregates() {
                self.collector
                    .set_aggregate(&aggregate.name, aggregate.value)?;
            }
        }
        Ok((self.collector, self.outputs))
    }
}

/// The names each extractor slot wrote, indexed by slot, in first-write order.
pub type SlotOutputs = Vec<Vec<Arc<str>>>;

/// Adds `name` to a slot's output list the first time the slot writes it.
fn note_output(outputs: &mut Vec<Arc<str>>, name: &Arc<str>) {
    // A slot writes a handful of names, each on every frame: the usual hit is the same `Arc`.
    if !outputs
        .iter()
        .any(|n| Arc::ptr_eq(n, name) || **n == **name)
    {
        outputs.push(Arc::clone(name));
    }
}

fn worker_died() -> EngineError {
    EngineError::PictureMismatch("a scoring worker thread stopped unexpectedly".into())
}
