using System.Diagnostics;
using System.Globalization;
using Lrml.Models;
using Lrml.Fast;
using Lrml.Training;
using Lrml.Util;
using Lrml.Experiments;
using Lrml.Protocols;
using Lrml.Reproduction;

namespace Lrml.Fast.Bench;

/// <summary>
/// The performance benchmark behind <c>lrml bench</c>: synthetic data of the named shapes (Zipf-like item
/// popularity), LRML training throughput of the fused CPU engine (median over repeats, sampling included,
/// full epochs where affordable), evaluation timings (sampled 100 candidates, full ranking with train
/// items excluded), peak memory per shape, and the TorchSharp dense-Adam reference in the same process for
/// a side-by-side ratio. Every thread pool is sized explicitly (fused engine, sampler, torch).
/// </summary>
public static class BenchRunner
{
    /// <summary>The default reference engine: the TorchSharp <see cref="LrmlModel"/> on the CPU with torch's
    /// intra-op threads set to the bench's count (<see cref="ComputeThreads.Set"/>).</summary>
    public static BenchReferenceFactory TorchReference { get; } = (cfg, init, threads) =>
    {
        ComputeThreads.Set(threads);
        return new LrmlModel(cfg, init);
    };

    /// <summary>Runs the benchmark; writes the JSON report when <see cref="BenchOptions.OutputPath"/> is set.</summary>
    public static BenchReport Run(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var log = options.Log ?? (_ => { });
        var started = DateTime.UtcNow;
        var total = Stopwatch.StartNew();
        var machine = MachineInfo.Current();
        log($"bench: {machine.CpuModel}, {machine.LogicalCores} cores, AVX-512 {(machine.Avx512 ? "yes" : "no")}, {machine.DotNet}, load {machine.LoadAverageStart}");
        var shapes = new List<ShapeReport>();
        var notes = new List<string>();
        string? semantics = null;
        foreach (var name in options.Shapes)
        {
            var spec = ShapeSpec.Parse(name);
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            bool perShape = ProcessMemory.TryResetPeak();
            var sw = Stopwatch.StartNew();
            var data = SyntheticShapeData.Generate(spec, options.Seed, options.Threads);
            double gen = sw.Elapsed.TotalSeconds;
            log($"{spec.Name}: {spec.Users:N0} users × {spec.Items:N0} items, {data.Train.Count:N0} train pairs (generated in {gen:F1} s)");
            var training = new List<TrainingMeasure>();
            var evaluation = new List<EvaluationMeasure>();
            using (var sampler = new BenchNegativeSampler(data.Train, data.PairUser, options.Seed, options.Threads))
            {
                foreach (var shape in options.Models)
                {
                    var cfg = new LrmlConfig { Dim = shape.Dim, Slots = shape.Slots, Optimizer = options.Optimizer };
                    var init = LrmlParameters.Initialize(cfg, spec.Users, spec.Items, options.Seed);
                    TrainingMeasure main;
                    using (var fused = new LrmlFused(cfg, init, new FusedOptions { Threads = options.Threads }))
                    {
                        semantics ??= fused.OptimizerSemantics;
                        main = MeasureTraining(fused, "fused", shape.ToString(), cfg.Optimizer.ToString(), sampler, data, options, log,
                            allowEpochs: EpochsAffordable(cfg.Optimizer == OptimizerKind.Adam, data.Train.Count, options));
                        if (options.Evaluate) evaluation.Add(MeasureEvaluation(fused, shape.ToString(), data, options, log));
                    }
                    TrainingMeasure? denseMeasure = null;
                    if (options.MeasureFusedDenseAdam && options.Optimizer != OptimizerKind.Adam)
                    {
                        var dense = cfg with { Optimizer = OptimizerKind.Adam };
                        using var fusedDense = new LrmlFused(dense, init, new FusedOptions { Threads = options.Threads });
                        denseMeasure = MeasureTraining(fusedDense, "fused", shape.ToString(), nameof(OptimizerKind.Adam), sampler, data,
                            options with { StepsPerRepeat = Math.Min(options.StepsPerRepeat, 50), Repeats = Math.Min(options.Repeats, 3) }, log, allowEpochs: false);
                    }
                    TrainingMeasure? reference = null;
                    if (options.Reference && (options.ReferenceFactory ?? TorchReference) is { } factory)
                    {
                        var dense = cfg with { Optimizer = OptimizerKind.Adam };
                        using var model = factory(dense, init, options.Threads);
                        reference = MeasureTraining(model, "torchsharp", shape.ToString(), nameof(OptimizerKind.Adam), sampler, data,
                            options with { StepsPerRepeat = options.ReferenceSteps, Repeats = options.ReferenceRepeats, WarmupSeconds = 0 }, log, allowEpochs: false);
                        Thread.Sleep(200); // let torch's OpenMP workers stop spinning before the next fused measurement
                    }
                    double? Ratio(TrainingMeasure t) => reference is null ? null : t.TriplesPerSecond / reference.TriplesPerSecond;
                    training.Add(main with { SpeedupVsReference = Ratio(main) });
                    if (denseMeasure is not null) training.Add(denseMeasure with { SpeedupVsReference = Ratio(denseMeasure) });
                    if (reference is not null) training.Add(reference);
                }
                foreach (var model in options.Baselines) MeasureModel(model, null, sampler, data, options, log, training, evaluation);
                if (options.Baselines.Count > 0)
                    foreach (var v in options.Variants) MeasureModel(v.Model, v, sampler, data, options, log, training, evaluation);
                if (options.Evaluate && options.Baselines.Count > 0) MeasurePopularity(data, options, log, evaluation);
            }
            long managed = GC.GetTotalMemory(false);
            long peak = ProcessMemory.PeakBytes();
            shapes.Add(new ShapeReport
            {
                Shape = spec.Name, Users = spec.Users, Items = spec.Items, TrainPairs = data.Train.Count, GenerationSeconds = gen,
                Training = training, Evaluation = evaluation, Projection = Project(spec, data.Train.Count, training, evaluation, options), PeakWorkingSetBytes = peak, PeakIsPerShape = perShape, ManagedHeapBytes = managed,
            });
            log($"{spec.Name}: peak working set {peak / 1e9:F2} GB{(perShape ? "" : " (process lifetime)")}");
        }

        notes.Add("Training throughput counts (user, positive, negative) triples per second, sampling included; the median over repeats is the headline, every repeat is listed (timings vary a lot on a shared machine).");
        notes.Add("Triples per CPU-second (process CPU time, all threads) is less sensitive to other processes than wall-clock throughput; on an idle machine wall throughput ≈ CPU throughput × effective parallelism.");
        if (semantics is not null) notes.Add($"Fused engine optimiser semantics: {semantics}.");
        if (options.Baselines.Count > 0)
        {
            notes.Add($"Registry models ({string.Join(", ", options.Baselines)}): each at the full profile's preset for the shape (ml-1m's own entry, the default entry otherwise; its batch size and negatives), through every engine the registry offers for it; non-torch rows run the whole-epoch measure, torch rows {options.ReferenceSteps} steps × {options.ReferenceRepeats} repeats with the epoch extrapolated (marked), same sampler and data; ratio = engine median / torch median. Torch full ranking is timed on 512 users and extrapolated.");
            if (options.MeasureRegistryLazyAdam)
                notes.Add("Optimiser: the presets train with exact Adam (PyTorch/TF1 semantics: every row's moments decay and every row moves each step, so a step costs O(all rows) in memory traffic); each fast engine is measured again with lazy-adam (TF LazyAdam / PyTorch SparseAdam: only the batch's rows and the dense tower), a different optimiser whose cost is the model's arithmetic. The projection uses the preset's optimiser; on a big shape exact Adam is measured by fixed steps and its epoch extrapolated.");
            notes.Add("Projection: `lrml reproduce main-table --profile full` on a dataset of each shape through the estimate's own formula (runs × epochs × pairs × negatives / triples/s + validation and test scores / full-ranking scores/s + 2 s per run), at the default engine's throughput; 'at most' at the preset's maximum epochs, 'expected' at the typical epochs of finished full-profile runs when there are any, else of the kit's record of its own full run on the dataset the shape is named after (ML-1M), else the maximum; 'lazy-adam expected' puts the same engine's lazy-adam throughput in where that row was measured (a different optimiser: what switching would buy, not the paper's runs).");
        }
        notes.Add("Fused results are bit-identical for any thread count, and on x64 machines with AVX2 or AVX-512 alike (rows of at most 128 floats, the runtime's default vector width); another vector width (ARM) changes the last bits.");
        notes.Add("Negatives come from the trainer's NegativeSampler (uniform over the user's non-training items), filled in parallel in fixed parts of 128 examples.");
        notes.Add($"Epoch seconds marked measured include the epoch shuffle and sampling (the median of {options.FullEpochRepeats} full epochs on shapes too big for epoch repeats); others are training pairs / median throughput.");
        notes.Add("Full-ranking and sampled evaluation times cover scoring and ranking the held-out item (train items excluded in full ranking); runs on a user prefix are extrapolated linearly and marked.");
        notes.Add(!options.Reference
            ? "The reference engine was switched off: no side-by-side ratio in this report."
            : "Reference: TorchSharp LrmlModel with dense Adam (torch intra-op threads set to the bench's thread count), same data, sampler and initial weights; ratio = fused median / reference median. The fused engine's own dense-Adam run is listed too.");
        var end = MachineInfo.LoadAverage();
        var report = new BenchReport
        {
            StartedUtc = started.ToString("O", CultureInfo.InvariantCulture),
            TotalSeconds = total.Elapsed.TotalSeconds,
            Machine = machine with { LoadAverageEnd = end },
            Settings = new BenchSettings
            {
                Shapes = [.. options.Shapes], Models = options.Models.Select(m => m.ToString()).ToList(), Threads = options.Threads,
                BatchSize = options.BatchSize, Negatives = options.Negatives, Optimizer = options.Optimizer.ToString(), Repeats = options.Repeats,
                StepsPerRepeat = options.StepsPerRepeat, WarmupSeconds = options.WarmupSeconds, ReferenceSteps = options.ReferenceSteps,
                ReferenceRepeats = options.ReferenceRepeats, FullRankingMaxUsers = options.FullRankingMaxUsers, SampledMaxUsers = options.SampledMaxUsers,
                EvalUserChunk = options.EvalUserChunk, Seed = options.Seed,
                ReferenceEngine = !options.Reference ? null : options.ReferenceFactory is null ? "torchsharp LrmlModel" : "custom",
            },
            Shapes = shapes,
            Targets = Targets(shapes),
            Notes = notes,
        };
        if (options.OutputPath is { } path) report.Save(path);
        return report;
    }

    /// <summary>
    /// A registered model at the settings the full profile gives it on this shape (<see cref="Presets"/>: the dataset's entry for
    /// ml-1m, the default entry otherwise; its batch size and negatives too), through every engine the registry offers for it
    /// (an engine added later with <see cref="ModelRegistry.RegisterEngine"/> is measured with no change here): training triples/s with
    /// the same sampler, and full-ranking / sampled scoring time. The torch engine is measured on a fixed number of steps
    /// (<see cref="BenchOptions.ReferenceSteps"/>) and 512 full-ranking users, its epoch and evaluation extrapolated; the others as
    /// LRML's fused engine (whole epochs where affordable). Non-torch rows get their speed-up over the torch row.
    /// </summary>
    private static void MeasureModel(string name, BenchVariant? variant, BenchNegativeSampler sampler, SyntheticShapeData data, BenchOptions o, Action<string> log,
        List<TrainingMeasure> training, List<EvaluationMeasure> evaluation)
    {
        FastEngines.Register();
        var entry = ModelRegistry.Get(name);
        var preset = PresetFor(entry.Name, data.Shape);
        if (variant is not null)   // the preset with the variant's settings in place of its own
            preset = preset with { Settings = [.. preset.Settings.Where(kv => !variant.Settings.Any(v => v.Key == kv.Key)), .. variant.Settings] };
        var train = Presets.Spec(preset, Profile.Full, o.Seed, o.Threads).Train;
        string label = $"{entry.Name} {string.Join(" ", preset.Settings.Where(kv => kv.Key is "dim" or "slots" or "layers").Select(kv => $"{kv.Key}={kv.Value}"))}{(variant is null ? "" : " " + variant.Label)}".Trim();
        var mo = o with { BatchSize = train.BatchSize, Negatives = train.NegativesPerPositive };
        var rows = new List<TrainingMeasure>();
        foreach (var engine in entry.Engines.OrderBy(e => e == "torch"))   // torch last: its OpenMP workers spin after it
        {
            bool capped = engine == "torch";
            if (capped && !o.Reference) continue;
            ComputeThreads.Set(o.Threads);
            var built = ModelRegistry.Build(entry.Name, new ModelBuildContext
            {
                NumUsers = data.Shape.Users, NumItems = data.Shape.Items, Train = data.Train, Seed = o.Seed, Threads = o.Threads, Engine = engine,
                Settings = preset.Settings, BatchSize = train.BatchSize, NegativesPerPositive = train.NegativesPerPositive,
            });
            using var model = built.Model;
            string opt = built.Config["optimizer"]?.ToString() ?? "";
            bool epochs = !capped && EpochsAffordable(opt == "adam", data.Train.Count, o);
            var measured = MeasureTraining((ITrainableRecommender)model, engine, label, opt, sampler, data,
                capped ? mo with { StepsPerRepeat = o.ReferenceSteps, Repeats = o.ReferenceRepeats, WarmupSeconds = 0 } : mo, log, allowEpochs: epochs);
            rows.Add(measured with { RegistryModel = entry.Name, Variant = variant?.Label });
            // The preset's exact Adam decays every row's moments each step (TF1/PyTorch semantics: O(all rows) memory traffic
            // per step, what bounds it on big tables); the same engine with row-sparse LazyAdam shows what the arithmetic costs.
            IReadOnlyList<KeyValuePair<string, string>> lazySettings = [.. preset.Settings.Where(kv => kv.Key != "optimizer"), new("optimizer", "lazy-adam")];
            if (!capped && o.MeasureRegistryLazyAdam && opt == "adam" && OffersLazyAdam(entry, lazySettings, log))
            {
                var lazyBuilt = ModelRegistry.Build(entry.Name, new ModelBuildContext
                {
                    NumUsers = data.Shape.Users, NumItems = data.Shape.Items, Train = data.Train, Seed = o.Seed, Threads = o.Threads, Engine = engine,
                    Settings = lazySettings,
                    BatchSize = train.BatchSize, NegativesPerPositive = train.NegativesPerPositive,
                });
                using var lazy = lazyBuilt.Model;
                rows.Add(MeasureTraining((ITrainableRecommender)lazy, engine, label, lazyBuilt.Config["optimizer"]?.ToString() ?? "", sampler, data, mo, log,
                    allowEpochs: true) with { RegistryModel = entry.Name, Variant = variant?.Label });
            }
            if (o.Evaluate && variant is null)   // a variant scores as its preset does
                evaluation.Add(MeasureEvaluation(model, $"{label} {engine}",  data,
                    capped ? o with { FullRankingMaxUsers = Math.Min(o.FullRankingMaxUsers, 512), SampledMaxUsers = Math.Min(o.SampledMaxUsers, 20_000) } : o, log)
                    with { RegistryModel = entry.Name, Engine = engine });
            if (capped) Thread.Sleep(200);
        }
        var torch = rows.FirstOrDefault(r => r.Engine == "torch");   // the same model and settings on torch (its preset optimiser)
        foreach (var t in rows) training.Add(t.Engine == "torch" || torch is null ? t : t with { SpeedupVsReference = t.TriplesPerSecond / torch.TriplesPerSecond });
    }

    /// <summary>Whether a measure may run whole epochs: not exact Adam on a shape too big for epoch repeats, which is measured by
    /// fixed steps and its epoch extrapolated (three ML-20M epochs of it take 12 – 45 min).</summary>
    private static bool EpochsAffordable(bool exactAdam, long pairs, BenchOptions o) => !exactAdam || pairs <= o.EpochRepeatMaxPairs;

    /// <summary>Whether the model accepts lazy-adam (an extension model may not); says so when not.</summary>
    private static bool OffersLazyAdam(ModelEntry entry, IReadOnlyList<KeyValuePair<string, string>> settings, Action<string> log)
    {
        try { entry.CheckSettings(settings); return true; }
        catch (ArgumentException e) { log($"  {entry.Name}: no lazy-adam row ({e.Message})"); return false; }
    }

    /// <summary>Popularity has nothing to train; its scoring time enters the full-profile projection.</summary>
    private static void MeasurePopularity(SyntheticShapeData data, BenchOptions o, Action<string> log, List<EvaluationMeasure> evaluation)
    {
        if (!Presets.Models.Contains("pop")) return;
        var built = ModelRegistry.Build("pop", new ModelBuildContext
        {
            NumUsers = data.Shape.Users, NumItems = data.Shape.Items, Train = data.Train, Seed = o.Seed, Threads = o.Threads,
        });
        using var model = built.Model;
        evaluation.Add(MeasureEvaluation(model, "pop", data, o, log) with { RegistryModel = "pop", Engine = built.Engine });
    }

    /// <summary>The preset a shape's runs would use: the dataset entry of the same name (ml-1m), else the default entry; a model
    /// without any preset (one added by an extension) runs at its registry defaults.</summary>
    private static Preset PresetFor(string model, ShapeSpec shape) => Presets.Models.Contains(model)
        ? Presets.Get(model, shape.Name) : new Preset(model, shape.Name, [], [], "registry defaults (no preset)");

    /// <summary>
    /// The projected time of <c>lrml reproduce main-table --profile full</c> on a dataset of this shape, through the estimate's own
    /// formula (<see cref="DurationEstimator.RunSeconds(RunSpec, SplitCounts, DurationEstimator.Throughput, double)"/>): per model in
    /// the presets, runs (seeds; one for popularity) × the run's duration at the triples/s and full-ranking scores/s of the engine
    /// the run would use by default, at its maximum epochs ("at most") and at <see cref="BenchOptions.TypicalEpochs"/> ("expected"),
    /// or without finished runs at the median epochs of the kit's record on the dataset the shape is named after.
    /// The split is leave-one-out-shaped: every user has one validation and one test item with sampled candidates, and full ranking.
    /// </summary>
    internal static ProjectionReport? Project(ShapeSpec shape, long trainPairs, IReadOnlyList<TrainingMeasure> training,
        IReadOnlyList<EvaluationMeasure> evaluation, BenchOptions o)
    {
        if (!o.Evaluate || o.Baselines.Count == 0) return null;
        FastEngines.Register();
        // finished full-profile runs in the results folder, else the kit's record of its own full run on the dataset the shape
        // is named after (ml-1m), else the maximum epochs
        var typical = o.TypicalEpochs is { ByModel.Count: > 0 } finished ? finished
            : StoppingEpochs.Shipped.TypicalFor(shape.Name) ?? o.TypicalEpochs ?? TypicalEpochs.None;
        string protocol = shape.Name == "ml-1m" ? NcfPublic.ProtocolName : LeaveLastOut.ProtocolName;
        var counts = new SplitCounts(protocol, trainPairs, shape.Items, shape.Users, true, shape.Users, true);
        var rows = new List<ProjectionRow>();
        var missing = new List<string>();
        foreach (var model in Presets.Models)
        {
            var entry = ModelRegistry.Get(model);
            var preset = PresetFor(entry.Name, shape);
            var spec = Presets.Spec(preset, Profile.Full, 1, o.Threads) with { Dataset = shape.Name, Protocol = protocol };
            int runs = entry.Deterministic ? 1 : Profile.Full.Seeds;
            string engine = entry.Deterministic ? entry.Engines[0] : ModelRegistry.EngineUsed(entry.Name, null, "cpu", preset.Settings);
            var ev = evaluation.FirstOrDefault(e => e.RegistryModel == entry.Name && e.Engine == engine);
            var tr = training.FirstOrDefault(t => t.RegistryModel == entry.Name && t.Engine == engine && t.Variant is null);
            if (ev is null || (!entry.Deterministic && tr is null)) { missing.Add($"{entry.Name} ({engine})"); continue; }
            var speed = new DurationEstimator.Throughput(tr?.TriplesPerSecond ?? double.NaN, (double)shape.Users * shape.Items / ev.FullRankingSeconds);
            var lazy = training.FirstOrDefault(t => t.RegistryModel == entry.Name && t.Engine == engine && t.Variant is null && t.Optimizer == "lazy-adam" && tr?.Optimizer != "lazy-adam");
            double typicalEpochs = typical.For(spec), expected = runs * DurationEstimator.RunSeconds(spec, counts, speed, typicalEpochs);
            rows.Add(new ProjectionRow
            {
                Model = entry.Name, Engine = engine, Runs = runs, MaxEpochs = entry.Deterministic ? 0 : spec.Train.Epochs, ExpectedEpochs = entry.Deterministic ? 0 : typicalEpochs,
                TrainPairs = trainPairs, Negatives = spec.Train.NegativesPerPositive, TriplesPerSecond = speed.TriplesPerSecond, ScoresPerSecond = speed.ScoresPerSecond,
                AtMostSeconds = runs * DurationEstimator.RunSeconds(spec, counts, speed, spec.Train.Epochs),
                ExpectedSeconds = expected, LazyTriplesPerSecond = lazy?.TriplesPerSecond,
                LazyExpectedSeconds = lazy is null ? expected : runs * DurationEstimator.RunSeconds(spec, counts, speed with { TriplesPerSecond = lazy.TriplesPerSecond }, typicalEpochs),
            });
        }
        return new ProjectionReport
        {
            Protocol = protocol, Rows = rows, AtMostSeconds = rows.Sum(r => r.AtMostSeconds), ExpectedSeconds = rows.Sum(r => r.ExpectedSeconds),
            LazyExpectedSeconds = rows.Sum(r => r.LazyExpectedSeconds),
            ExpectedSource = typical.Source, Complete = missing.Count == 0, Missing = missing,
        };
    }

    private static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    private static TrainingMeasure MeasureTraining(ITrainableRecommender model, string engine, string shape, string opt,
        BenchNegativeSampler sampler, SyntheticShapeData data, BenchOptions o, Action<string> log, bool allowEpochs)
    {
        var batch = new TrainingBatch(o.BatchSize, o.Negatives);
        long pairs = data.Train.Count;
        // warm-up: JIT tiering, caches, torch allocator
        var sw = Stopwatch.StartNew();
        int warm = 0;
        do { sampler.RandomBatch(batch); model.TrainStep(batch); warm++; } while (sw.Elapsed.TotalSeconds < o.WarmupSeconds || warm < 2);
        // Every timed repeat ends with the parameter check the trainer makes after each epoch. It reads every parameter, so a
        // fused engine's exact Adam pays the steps its unread rows still owe (EmbeddingEngine replays them when next read)
        // inside the timing instead of leaving them to a later repeat, or to none.
        Check(model);
        // where a step's time goes: the fused engines time their phases over the measured repeats (no result changes)
        var timed = model as IPhaseTimed;
        var clock = timed is null ? null : new PhaseClock();
        if (timed is not null) timed.PhaseClock = clock;
        double timedWall = 0;
        var runs = new List<double>();
        var cpuRuns = new List<double>();
        var probes = new List<double>();
        CpuProbe();   // caches and branch predictors warm before the first timed probe
        double lossSum = 0, triples = 0;
        double? epochSeconds = null;
        var epochRuns = new List<double>();
        bool epochMeasured = false;
        string method;
        if (allowEpochs && pairs <= o.EpochRepeatMaxPairs)
        {
            method = "epoch";
            for (int r = 0; r < o.Repeats; r++)
            {
                probes.Add(CpuProbe());
                var cpu0 = CpuSeconds();
                sw.Restart();
                (double l, long t) = Epoch(model, sampler, batch);
                Check(model);
                double s = sw.Elapsed.TotalSeconds;
                timedWall += s;
                cpuRuns.Add(t / Math.Max(1e-9, CpuSeconds() - cpu0));
                lossSum += l; triples += t;
                epochRuns.Add(s); runs.Add(t / s);
            }
            epochSeconds = Median(epochRuns); epochMeasured = true;
        }
        else
        {
            method = $"steps:{o.StepsPerRepeat}";
            for (int r = 0; r < o.Repeats; r++)
            {
                probes.Add(CpuProbe());
                var cpu0 = CpuSeconds();
                sw.Restart();
                double l = 0;
                for (int s = 0; s < o.StepsPerRepeat; s++) { sampler.RandomBatch(batch); l += model.TrainStep(batch); }
                Check(model);
                double sec = sw.Elapsed.TotalSeconds;
                timedWall += sec;
                long t = (long)o.StepsPerRepeat * o.BatchSize * o.Negatives;
                cpuRuns.Add(t / Math.Max(1e-9, CpuSeconds() - cpu0));
                lossSum += l; triples += t;
                runs.Add(t / sec);
            }
            if (allowEpochs && pairs <= o.FullEpochMaxPairs)
            {
                for (int r = 0; r < o.FullEpochRepeats; r++)
                {
                    probes.Add(CpuProbe());
                    sw.Restart();
                    (double l, long t) = Epoch(model, sampler, batch);
                    Check(model);
                    epochRuns.Add(sw.Elapsed.TotalSeconds);
                    timedWall += sw.Elapsed.TotalSeconds;
                    lossSum += l; triples += t;
                }
                epochSeconds = Median(epochRuns); epochMeasured = true;
            }
        }
        if (timed is not null) timed.PhaseClock = null;
        var phases = clock is null ? [] : clock.Phases.Append(new PhaseTime(OutsideSteps, Math.Max(0, timedWall - clock.TotalSeconds))).ToList();
        double median = Median(runs);
        epochSeconds ??= pairs * o.Negatives / median;
        long swept = timed?.SweptAdamFloats ?? 0;
        double? floorNs = swept > 0 ? AdamFloor.NanosecondsPerFloat((swept + o.Threads - 1) / o.Threads, o.Threads) : null;   // ≥ 0.3 s, right after the row
        double? floorSeconds = floorNs is { } ns ? AdamFloor.StepSeconds(swept, o.Threads, ns) : null;
        log(string.Create(CultureInfo.InvariantCulture,
            $"  {engine,-10} {shape} {opt,-8}: {median / 1e6:F3} M triples/s (runs {string.Join(", ", runs.Select(x => (x / 1e6).ToString("F3", CultureInfo.InvariantCulture)))}), {Median(cpuRuns) / 1e6:F3} M per CPU-s, epoch {epochSeconds:F1} s{(epochMeasured ? (epochRuns.Count > 1 ? $" (median of {string.Join(", ", epochRuns.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))})" : "") : " (extrapolated)")}"));
        return new TrainingMeasure
        {
            Engine = engine, Model = shape, Optimizer = opt, TriplesPerSecond = median, BatchSize = o.BatchSize, Negatives = o.Negatives, RunTriplesPerSecond = runs,
            Method = method, EpochSeconds = epochSeconds, EpochMeasured = epochMeasured, EpochRunSeconds = epochRuns, MeanLossPerTriple = triples > 0 ? lossSum / triples : 0,
            TriplesPerCpuSecond = Median(cpuRuns), ProbeSeconds = probes, Phases = phases, TimedSteps = clock?.Steps ?? 0,
            SweptAdamFloats = swept, AdamFloorNanosPerFloat = floorNs, AdamFloorMicrosPerStep = floorSeconds * 1e6,
            AdamFloorCapTriplesPerSecond = floorSeconds is { } fs ? (double)o.BatchSize * o.Negatives / fs : null,
        };
    }

    /// <summary>The bench's own share of a timed repeat: filling batches between steps and the parameter check after each
    /// repeat (which, with a replaying exact Adam, pays the steps unread rows still owe).</summary>
    public const string OutsideSteps = "sampling and checks (outside steps)";

    private static volatile int s_probeSink;

    private static void Check(ITrainableRecommender model)
    {
        if (!model.ParametersAreFinite()) throw new InvalidOperationException($"{model.Name}: a parameter became NaN or infinite during the bench.");
    }

    /// <summary>
    /// Seconds of a fixed single-thread integer computation (≈ 10 ms; registers only, no memory traffic), timed before every
    /// repeat: on a virtual machine the CPU's own speed can drift (a plain compute loop alone on one of this kit's 2-core CI
    /// VMs varied 1.6× between sub-second repeats), so the report shows how much of a spread is the machine, not the engine.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call: no tier change mid-run
    internal static double CpuProbe()
    {
        var sw = Stopwatch.StartNew();
        uint x = 2463534242, acc = 0;
        for (int i = 0; i < 4_000_000; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; acc += x >> 28; }
        s_probeSink = (int)acc;
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>CPU seconds used by the whole process so far (all threads).</summary>
    private static double CpuSeconds()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }

    private static (double Loss, long Triples) Epoch(ITrainableRecommender model, BenchNegativeSampler sampler, TrainingBatch batch)
    {
        sampler.BeginEpoch();
        double loss = 0; long triples = 0;
        while (sampler.NextEpochBatch(batch))
        {
            loss += model.TrainStep(batch);
            triples += (long)batch.Count * batch.NegativesPerPositive;
        }
        return (loss, triples);
    }

    private static EvaluationMeasure MeasureEvaluation(IRecommender model, string shape, SyntheticShapeData data, BenchOptions o, Action<string> log)
    {
        int users = data.Shape.Users, items = data.Shape.Items;
        const int C = SyntheticShapeData.CandidatesPerUser;
        // sampled: 100 candidates per user (held-out item first), chunks of 4096 users
        int su = Math.Min(users, o.SampledMaxUsers);
        int chunk = Math.Min(su, 4096);
        var pu = new int[chunk * C]; var scores = new float[chunk * C];
        var secs = new List<double>();
        int hits = 0;
        for (int r = 0; r < Math.Min(3, o.Repeats); r++)
        {
            var sw = Stopwatch.StartNew();
            hits = 0;
            for (int u0 = 0; u0 < su; u0 += chunk)
            {
                int n = Math.Min(chunk, su - u0);
                for (int x = 0; x < n * C; x++) pu[x] = u0 + x / C;
                model.ScorePairs(pu.AsSpan(0, n * C), data.Candidates.AsSpan(u0 * C, n * C), scores.AsSpan(0, n * C));
                for (int x = 0; x < n; x++)
                {
                    var s = scores.AsSpan(x * C, C);
                    int above = 0;
                    for (int c = 1; c < C; c++) if (s[c] >= s[0]) above++; // pessimistic ties
                    if (above < 10) hits++;
                }
            }
            secs.Add(sw.Elapsed.TotalSeconds);
        }
        double sampled = Median(secs) * users / su;
        // full ranking: every item, train items excluded, user chunks of EvalUserChunk
        int fu = Math.Min(users, o.FullRankingMaxUsers);
        int fc = Math.Min(fu, o.EvalUserChunk);
        var buf = new float[(long)fc * items];
        var ids = new int[fc];
        int fullHits = 0;
        var fsw = Stopwatch.StartNew();
        for (int u0 = 0; u0 < fu; u0 += fc)
        {
            int n = Math.Min(fc, fu - u0);
            for (int x = 0; x < n; x++) ids[x] = u0 + x;
            model.ScoreAllItems(ids.AsSpan(0, n), buf.AsSpan(0, n * items));
            for (int x = 0; x < n; x++)
            {
                int u = u0 + x, test = data.TestItem[u];
                var s = buf.AsSpan(x * items, items);
                float st = s[test];
                int above = 0;
                for (int i = 0; i < s.Length; i++) if (s[i] >= st) above++;
                above--; // the test item itself
                foreach (int i in data.Train[u]) if (s[i] >= st) above--;
                if (above < 10) fullHits++;
            }
        }
        double full = fsw.Elapsed.TotalSeconds * users / fu;
        log(string.Create(CultureInfo.InvariantCulture,
            $"  eval {shape}: sampled {sampled:F3} s{(su < users ? " (extrapolated)" : "")}, full ranking {full:F2} s{(fu < users ? $" (extrapolated from {fu:N0} users)" : "")}"));
        return new EvaluationMeasure
        {
            Model = shape, SampledSeconds = sampled, SampledExtrapolated = su < users, SampledUsersMeasured = su,
            SampledHitRate = (double)hits / su, FullRankingSeconds = full, FullRankingExtrapolated = fu < users,
            FullRankingUsersMeasured = fu, FullHitRate = (double)fullHits / fu, FullRankingBufferBytes = buf.LongLength * 4,
        };
    }

    internal static List<TargetCheck> Targets(List<ShapeReport> shapes)
    {
        var c = CultureInfo.InvariantCulture;
        var list = new List<TargetCheck>();
        TrainingMeasure? Main(string shape, string model) => shapes.FirstOrDefault(s => s.Shape == shape)?.Training
            .FirstOrDefault(t => t.Engine == "fused" && t.Model == model && t.Optimizer != nameof(OptimizerKind.Adam))
            ?? shapes.FirstOrDefault(s => s.Shape == shape)?.Training.FirstOrDefault(t => t.Engine == "fused" && t.Model == model);
        EvaluationMeasure? Eval(string shape, string model) => shapes.FirstOrDefault(s => s.Shape == shape)?.Evaluation.FirstOrDefault(e => e.Model == model);
        const string big = "d=100,N=20", small = "d=50,N=10";
        foreach (var shape in new[] { "ml-1m", "ml-20m" })
        {
            if (Main(shape, big) is { } t) list.Add(new($"{shape} {big} training ≥ 1.0 M triples/s", (t.TriplesPerSecond / 1e6).ToString("F2", c) + " M/s", t.TriplesPerSecond >= 1e6));
            if (Main(shape, small) is { } t2) list.Add(new($"{shape} {small} training ≥ 2.0 M triples/s", (t2.TriplesPerSecond / 1e6).ToString("F2", c) + " M/s", t2.TriplesPerSecond >= 2e6));
        }
        if (Main("ml-20m", big) is { EpochSeconds: { } e } m20)
            list.Add(new($"ml-20m {big} epoch ≤ 20 s (sampling included)", e.ToString("F1", c) + " s" + (m20.EpochMeasured ? "" : " (extrapolated)"), e <= 20));
        if (shapes.FirstOrDefault(s => s.Shape == "netflix") is { } nf)
            list.Add(new("netflix peak memory ≤ 8 GB", (nf.PeakWorkingSetBytes / 1e9).ToString("F2", c) + " GB" + (nf.PeakIsPerShape ? "" : " (process lifetime)"), nf.PeakWorkingSetBytes <= 8L << 30));
        if (Eval("ml-1m", big) is { } ev)
        {
            list.Add(new("ml-1m sampled evaluation ≤ 0.2 s", ev.SampledSeconds.ToString("F3", c) + " s", ev.SampledSeconds <= 0.2));
            list.Add(new("ml-1m full ranking ≤ 5 s", ev.FullRankingSeconds.ToString("F2", c) + " s", ev.FullRankingSeconds <= 5));
        }
        if (Eval("ml-20m", big) is { } ev20)
            list.Add(new("ml-20m full ranking feasible in bounded memory",
                ev20.FullRankingSeconds.ToString("F0", c) + " s" + (ev20.FullRankingExtrapolated ? $" (extrapolated from {ev20.FullRankingUsersMeasured:N0} users)" : "") + $", score buffer {ev20.FullRankingBufferBytes / 1e6:F0} MB",
                true));
        foreach (var shape in shapes)
            foreach (var row in shape.Projection?.Rows ?? [])
            {
                if (row.Model is "pop") continue;
                // the preset's optimiser first, then the same engine's LazyAdam row when there is one: each gets its own check
                foreach (var t in shape.Training.Where(t => t.RegistryModel == row.Model && t.Engine == row.Engine))
                {
                    string what = $"{row.Model}{(t.Variant is null ? "" : " " + t.Variant)} ({row.Engine}, {t.Optimizer})";
                    if (shape.Shape == "ml-1m")
                    {
                        double goal = row.Model is "bpr" or "cml" or "gmf" ? 5e6 : row.Model is "mlp" or "neumf" or "transcf" ? 1e6 : 0;
                        // where exact Adam's arithmetic alone caps the row below the goal, the check says so (the machine, not the engine)
                        string cap = t.AdamFloorCapTriplesPerSecond is { } a && a < goal
                            ? string.Create(c, $" (exact Adam's update alone caps it at {a / 1e6:F2} M/s on this machine)") : "";
                        if (goal > 0) list.Add(new($"ml-1m {what} training ≥ {goal / 1e6:F0} M triples/s", (t.TriplesPerSecond / 1e6).ToString("F2", c) + " M/s" + cap, t.TriplesPerSecond >= goal));
                    }
                    if (shape.Shape == "ml-20m" && t.EpochSeconds is { } epoch)
                        list.Add(new($"ml-20m {what} epoch ≤ 60 s", epoch.ToString("F1", c) + " s" + (t.EpochMeasured ? "" : " (extrapolated)"), epoch <= 60));
                }
            }
        return list;
    }
}
