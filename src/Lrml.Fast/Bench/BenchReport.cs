using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lrml.Util;

namespace Lrml.Fast.Bench;

/// <summary>Everything a bench run measured, JSON-serialisable (<see cref="ToJson"/>).</summary>
public sealed record BenchReport
{
    /// <summary>UTC start time (ISO 8601).</summary>
    public string StartedUtc { get; init; } = "";
    /// <summary>Wall seconds of the whole run.</summary>
    public double TotalSeconds { get; init; }
    /// <summary>The machine.</summary>
    public MachineInfo Machine { get; init; } = new();
    /// <summary>The effective settings (the options without callbacks).</summary>
    public BenchSettings Settings { get; init; } = new();
    /// <summary>One entry per shape.</summary>
    public List<ShapeReport> Shapes { get; init; } = [];
    /// <summary>The issue's targets with the measured value and whether it was met (for the shapes run).</summary>
    public List<TargetCheck> Targets { get; init; } = [];
    /// <summary>Methodology and caveats.</summary>
    public List<string> Notes { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses <see cref="ToJson"/> output.</summary>
    public static BenchReport FromJson(string json) => JsonSerializer.Deserialize<BenchReport>(json, Json)
        ?? throw new JsonException("Empty bench report.");

    /// <summary>Writes the JSON atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>A Markdown summary: training table, evaluation table, targets.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"LRML bench — {Machine.CpuModel}, {Machine.LogicalCores} cores, AVX-512 {(Machine.Avx512 ? "yes" : "no")}, {Machine.DotNet}, TorchSharp {Machine.TorchSharp ?? "n/a"}, {Settings.Threads} threads, load {Machine.LoadAverageStart ?? "?"} → {Machine.LoadAverageEnd ?? "?"}");
        sb.AppendLine();
        sb.AppendLine("| shape | engine | model | optimiser | triples/s (median) | runs | triples/CPU-s | epoch s | vs reference |");
        sb.AppendLine("|---|---|---|---|---:|---|---:|---:|---:|");
        foreach (var s in Shapes)
            foreach (var t in s.Training)
                sb.AppendLine(string.Create(c, $"| {s.Shape} | {t.Engine} | {t.Model} | {t.Optimizer} | {t.TriplesPerSecond:N0} | {string.Join(" ", t.RunTriplesPerSecond.Select(x => (x / 1e3).ToString("F0", c) + "k"))} | {t.TriplesPerCpuSecond:N0} | {(t.EpochSeconds is { } e ? e.ToString("F2", c) + (t.EpochMeasured ? "" : " (extrap.)") : "")} | {(t.SpeedupVsReference is { } r ? r.ToString("F1", c) + "×" : "")} |"));
        var probes = Shapes.SelectMany(s => s.Training).SelectMany(t => t.ProbeSeconds).Where(x => x > 0).ToList();
        if (probes.Count > 1)
            sb.AppendLine().AppendLine(string.Create(c, $"CPU probe (one fixed single-thread computation, timed before every repeat): {probes.Min() * 1e3:F1} – {probes.Max() * 1e3:F1} ms, slowest/fastest {probes.Max() / probes.Min():F2}× — the machine's own speed varied this much during the measures."));
        var timed = Shapes.SelectMany(s => s.Training.Where(t => t.Phases.Count > 0 && t.TimedSteps > 0).Select(t => (s.Shape, t))).ToList();
        if (timed.Count > 0)
        {
            sb.AppendLine().AppendLine("Where a training step's time goes (fused engines, timed repeats: share of their wall time, largest first; " +
                                       "phases under 0.5 % summed as \"other\"; µs per step includes the bench's sampling). A phase with share s caps the row at its " +
                                       "triples/s ÷ s, even if everything else took no time:");
            sb.AppendLine().AppendLine("| shape | engine | model | optimiser | µs per step | exact-Adam floor µs (cap) | phases |");
            sb.AppendLine("|---|---|---|---|---:|---:|---|");
            foreach (var (shape, t) in timed)
                sb.AppendLine(string.Create(c, $"| {shape} | {t.Engine} | {t.Model} | {t.Optimizer} | {t.Phases.Sum(p => p.Seconds) / t.TimedSteps * 1e6:N0} | {FloorCell(t)} | {PhaseSummary(t.Phases)} |"));
            if (timed.FirstOrDefault(x => x.t.AdamFloorNanosPerFloat is not null).t is { } f)
                sb.AppendLine().AppendLine(string.Create(c, $"Exact-Adam floor: exact Adam's update as the shared engine computes it (two moments, a square root, two divisions per float; LRML and TransCF do the same arithmetic per float) timed by itself (nothing else of the step), on {Settings.Threads} thread(s) at once as the sweep runs, each over the floats one thread sweeps, the slowest thread's fastest pass over at least 0.3 s ({f.AdamFloorNanosPerFloat:F2} ns per float for {f.Model}); a step that sweeps F floats on {Settings.Threads} threads takes at least F ÷ {Settings.Threads} times that, so its triples per step ÷ that time caps the row's throughput on this machine, whatever else the step costs."));
        }
        sb.AppendLine();
        sb.AppendLine("| shape | model | sampled eval s | sampled HR@10 | full ranking s | full users measured | full HR@10 | peak working set GB | managed heap GB |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in Shapes)
            foreach (var e in s.Evaluation)
                sb.AppendLine(string.Create(c, $"| {s.Shape} | {e.Model} | {e.SampledSeconds:F3}{(e.SampledExtrapolated ? " (extrap.)" : "")} | {e.SampledHitRate:F3} | {e.FullRankingSeconds:F2}{(e.FullRankingExtrapolated ? " (extrap.)" : "")} | {e.FullRankingUsersMeasured:N0} | {e.FullHitRate:F3} | {s.PeakWorkingSetBytes / 1e9:F2} | {s.ManagedHeapBytes / 1e9:F2} |"));
        foreach (var s in Shapes.Where(s => s.Projection is not null))
        {
            var p = s.Projection!;
            sb.AppendLine();
            sb.AppendLine(string.Create(c, $"Projected `lrml reproduce main-table --profile full` on a {s.Shape}-shaped dataset ({p.Protocol} split): at most {Duration(p.AtMostSeconds)}, expected {Duration(p.ExpectedSeconds)} (with lazy-adam where measured, a different optimiser: {Duration(p.LazyExpectedSeconds)}){(p.Complete ? "" : $" (without {string.Join(", ", p.Missing)}: not measured)")}; expected epochs from {p.ExpectedSource}."));
            sb.AppendLine();
            sb.AppendLine("| model | engine | runs | max epochs | expected epochs | triples/s | scores/s | at most min | expected min | lazy-adam triples/s | lazy-adam expected min |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in p.Rows)
                sb.AppendLine(string.Create(c, $"| {r.Model} | {r.Engine} | {r.Runs} | {r.MaxEpochs} | {r.ExpectedEpochs:0.#} | {(double.IsFinite(r.TriplesPerSecond) ? r.TriplesPerSecond.ToString("N0", c) : "—")} | {r.ScoresPerSecond:N0} | {r.AtMostSeconds / 60:F1} | {r.ExpectedSeconds / 60:F1} | {(r.LazyTriplesPerSecond is { } l ? l.ToString("N0", c) : "—")} | {r.LazyExpectedSeconds / 60:F1} |"));
        }
        if (Targets.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("| target | measured | met |");
            sb.AppendLine("|---|---|---|");
            foreach (var t in Targets) sb.AppendLine($"| {t.Target} | {t.Measured} | {(t.Met ? "yes" : "NO")} |");
        }
        if (Notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in Notes) sb.AppendLine($"- {n}");
        }
        return sb.ToString();
    }

    /// <summary>"225 (4.55 M/s)": the exact-Adam floor per step and the throughput cap it gives, or "—" for a row that does not sweep.</summary>
    internal static string FloorCell(TrainingMeasure t) =>
        t.AdamFloorMicrosPerStep is { } us && t.AdamFloorCapTriplesPerSecond is { } cap
            ? string.Create(CultureInfo.InvariantCulture, $"{us:N0} ({cap / 1e6:F2} M/s)")
            : "—";

    /// <summary>"examples 41 %, exact-Adam sweep (every row) 30 %, …, other 1 %": each phase's share of the total, largest
    /// first, those under 0.5 % summed as "other".</summary>
    internal static string PhaseSummary(IReadOnlyList<PhaseTime> phases)
    {
        var c = CultureInfo.InvariantCulture;
        double total = phases.Sum(p => p.Seconds);
        if (!(total > 0)) return "";
        var shown = phases.Where(p => p.Seconds / total >= 0.005).OrderByDescending(p => p.Seconds).ToList();
        double other = total - shown.Sum(p => p.Seconds);
        var parts = shown.Select(p => string.Create(c, $"{p.Phase} {100 * p.Seconds / total:F0} %")).ToList();
        if (shown.Count < phases.Count) parts.Add(string.Create(c, $"other {100 * other / total:F0} %"));
        return string.Join(", ", parts);
    }

    private static string Duration(double seconds) => Lrml.Reproduction.DurationEstimate.Format(TimeSpan.FromSeconds(seconds));
}

/// <summary>The options of a run, as recorded.</summary>
public sealed record BenchSettings
{
    /// <summary>Shapes run.</summary>
    public List<string> Shapes { get; init; } = [];
    /// <summary>Model sizes run ("d=…,N=…").</summary>
    public List<string> Models { get; init; } = [];
    /// <summary>Threads of every pool (fused engine, sampler, torch).</summary>
    public int Threads { get; init; }
    /// <summary>Positives per batch.</summary>
    public int BatchSize { get; init; }
    /// <summary>Negatives per positive.</summary>
    public int Negatives { get; init; }
    /// <summary>Optimiser of the fused main measurement.</summary>
    public string Optimizer { get; init; } = "";
    /// <summary>Repeats per measurement.</summary>
    public int Repeats { get; init; }
    /// <summary>Steps per fixed-step repeat.</summary>
    public int StepsPerRepeat { get; init; }
    /// <summary>Warm-up seconds before measuring.</summary>
    public double WarmupSeconds { get; init; }
    /// <summary>Steps per reference repeat.</summary>
    public int ReferenceSteps { get; init; }
    /// <summary>Reference repeats.</summary>
    public int ReferenceRepeats { get; init; }
    /// <summary>User cap of full ranking (beyond: extrapolated).</summary>
    public int FullRankingMaxUsers { get; init; }
    /// <summary>User cap of sampled evaluation (beyond: extrapolated).</summary>
    public int SampledMaxUsers { get; init; }
    /// <summary>Users per ScoreAllItems call.</summary>
    public int EvalUserChunk { get; init; }
    /// <summary>Run seed.</summary>
    public long Seed { get; init; }
    /// <summary>Reference engine ("torchsharp LrmlModel", "custom"), or null when off.</summary>
    public string? ReferenceEngine { get; init; }
}

/// <summary>Results for one data shape.</summary>
public sealed record ShapeReport
{
    /// <summary>Shape name.</summary>
    public string Shape { get; init; } = "";
    /// <summary>Users of the shape.</summary>
    public int Users { get; init; }
    /// <summary>Items of the shape.</summary>
    public int Items { get; init; }
    /// <summary>Training pairs generated.</summary>
    public long TrainPairs { get; init; }
    /// <summary>Seconds to generate the synthetic data (not part of any other measure).</summary>
    public double GenerationSeconds { get; init; }
    /// <summary>Training measurements (fused main, fused dense Adam, reference) per model size.</summary>
    public List<TrainingMeasure> Training { get; init; } = [];
    /// <summary>Evaluation measurements of the fused engine per model size.</summary>
    public List<EvaluationMeasure> Evaluation { get; init; } = [];
    /// <summary>The projected full-profile main-table time on a dataset of this shape (null without per-model measurements or evaluation).</summary>
    public ProjectionReport? Projection { get; init; }
    /// <summary>Peak resident set of the process while this shape ran (VmHWM, reset per shape on Linux), bytes.</summary>
    public long PeakWorkingSetBytes { get; init; }
    /// <summary>Whether the peak was reset before this shape (false: process-lifetime peak).</summary>
    public bool PeakIsPerShape { get; init; }
    /// <summary>Managed heap after the shape's training (GC.GetTotalMemory), bytes.</summary>
    public long ManagedHeapBytes { get; init; }
}

/// <summary>One training throughput measurement.</summary>
public sealed record TrainingMeasure
{
    /// <summary>"fused" or "torchsharp".</summary>
    public string Engine { get; init; } = "";
    /// <summary>Model size ("d=…,N=…").</summary>
    public string Model { get; init; } = "";
    /// <summary>Optimiser of this measurement.</summary>
    public string Optimizer { get; init; } = "";
    /// <summary>Median training triples (user, positive, negative) per second, sampling included.</summary>
    public double TriplesPerSecond { get; init; }
    /// <summary>Median triples per CPU-second of the process (all threads; robust to other processes' load).</summary>
    public double TriplesPerCpuSecond { get; init; }
    /// <summary>Every repeat's throughput.</summary>
    public List<double> RunTriplesPerSecond { get; init; } = [];
    /// <summary>How the repeats were made: "epoch" (whole epochs) or "steps:N" (fixed steps, random pairs).</summary>
    public string Method { get; init; } = "";
    /// <summary>Seconds of one epoch (shuffle and sampling included): measured or extrapolated.</summary>
    public double? EpochSeconds { get; init; }
    /// <summary>True when <see cref="EpochSeconds"/> was measured on full epochs (the median), false when extrapolated.</summary>
    public bool EpochMeasured { get; init; }
    /// <summary>Every measured epoch's seconds (empty when extrapolated).</summary>
    public List<double> EpochRunSeconds { get; init; } = [];
    /// <summary>Fused median / reference median for the same shape and model (null without reference).</summary>
    public double? SpeedupVsReference { get; init; }
    /// <summary>The registry model of a per-model measurement (null for the LRML size rows).</summary>
    public string? RegistryModel { get; init; }
    /// <summary>The variant's changed settings ("rank_weighting=warp"), null for the preset.</summary>
    public string? Variant { get; init; }
    /// <summary>Positives per batch of this measurement.</summary>
    public int BatchSize { get; init; }
    /// <summary>Negatives per positive of this measurement.</summary>
    public int Negatives { get; init; }
    /// <summary>Mean loss per triple over the measured steps (sanity: it decreases as training proceeds).</summary>
    public double MeanLossPerTriple { get; init; }
    /// <summary>Seconds of the same fixed single-thread computation timed before each repeat (the machine's own speed).</summary>
    public List<double> ProbeSeconds { get; init; } = [];
    /// <summary>Where the timed repeats' wall time went, by phase of the fused engine's steps, plus the bench's own sampling and
    /// checks between them (<see cref="BenchRunner.OutsideSteps"/>); empty for engines that do not time phases (torch).</summary>
    public List<PhaseTime> Phases { get; init; } = [];
    /// <summary>Training steps the phases cover.</summary>
    public long TimedSteps { get; init; }
    /// <summary>Floats of P and Q the engine sweeps with exact Adam at every step (0 when it does not sweep: another optimiser,
    /// a torch engine, or exact Adam replaying unread rows on big tables).</summary>
    public long SweptAdamFloats { get; init; }
    /// <summary>Exact Adam's update measured alone on this machine, nanoseconds per float on one thread (null without a sweep;
    /// see <see cref="AdamFloor"/>).</summary>
    public double? AdamFloorNanosPerFloat { get; init; }
    /// <summary>The least time a step can take to sweep <see cref="SweptAdamFloats"/> on the bench's threads at that speed, µs.</summary>
    public double? AdamFloorMicrosPerStep { get; init; }
    /// <summary>Triples per second that floor allows at most (a step's triples ÷ the floor): a target above it cannot be met on
    /// this machine with exact Adam.</summary>
    public double? AdamFloorCapTriplesPerSecond { get; init; }
}

/// <summary>Evaluation timings (scoring and ranking, the held-out item against candidates).</summary>
public sealed record EvaluationMeasure
{
    /// <summary>Model size ("d=…,N=…").</summary>
    public string Model { get; init; } = "";
    /// <summary>Median seconds to score 100 candidates per user and rank the held-out item, all users.</summary>
    public double SampledSeconds { get; init; }
    /// <summary>True when measured on a user prefix and scaled to all users.</summary>
    public bool SampledExtrapolated { get; init; }
    /// <summary>Users scored in the sampled measurement.</summary>
    public int SampledUsersMeasured { get; init; }
    /// <summary>HR@10 of the held-out item among its 100 candidates (pessimistic ties; a sanity value).</summary>
    public double SampledHitRate { get; init; }
    /// <summary>Seconds to score every item for every user (train items excluded from the ranking), all users.</summary>
    public double FullRankingSeconds { get; init; }
    /// <summary>True when measured on a user prefix and scaled to all users.</summary>
    public bool FullRankingExtrapolated { get; init; }
    /// <summary>Users ranked in the full-ranking measurement.</summary>
    public int FullRankingUsersMeasured { get; init; }
    /// <summary>HR@10 of the held-out item over all non-training items (pessimistic ties; a sanity value).</summary>
    public double FullHitRate { get; init; }
    /// <summary>Scores buffer of one user chunk (the bound of full ranking's extra memory), bytes.</summary>
    public long FullRankingBufferBytes { get; init; }
    /// <summary>The registry model of a per-model measurement (null for the LRML size rows).</summary>
    public string? RegistryModel { get; init; }
    /// <summary>The engine scored with (per-model measurements).</summary>
    public string? Engine { get; init; }
}

/// <summary>The projected time of <c>lrml reproduce main-table --profile full</c> on one dataset shape (the estimate's formula).</summary>
public sealed record ProjectionReport
{
    /// <summary>The protocol the projection assumes (ncf for ml-1m, leave-last-out otherwise).</summary>
    public string Protocol { get; init; } = "";
    /// <summary>One row per model of the presets.</summary>
    public List<ProjectionRow> Rows { get; init; } = [];
    /// <summary>Every run at its maximum epochs, seconds.</summary>
    public double AtMostSeconds { get; init; }
    /// <summary>Every run at the typical epochs of <see cref="ExpectedSource"/>, seconds.</summary>
    public double ExpectedSeconds { get; init; }
    /// <summary>Where the typical epochs come from.</summary>
    public string ExpectedSource { get; init; } = "";
    /// <summary>The expected figure with lazy-adam for the models whose lazy-adam row was measured (the preset's optimiser for the
    /// rest), seconds: what switching optimiser would buy; a different optimiser, so not the paper's runs.</summary>
    public double LazyExpectedSeconds { get; init; }
    /// <summary>Whether every model of the presets was measured on its default engine (false: the totals leave <see cref="Missing"/> out).</summary>
    public bool Complete { get; init; }
    /// <summary>Models left out of the totals (not measured on their default engine in this run).</summary>
    public List<string> Missing { get; init; } = [];
}

/// <summary>One model's share of a <see cref="ProjectionReport"/>.</summary>
public sealed record ProjectionRow
{
    /// <summary>Registry name.</summary>
    public string Model { get; init; } = "";
    /// <summary>The engine the full profile would use by default on a CPU.</summary>
    public string Engine { get; init; } = "";
    /// <summary>Runs (seeds; one for a model that does not train).</summary>
    public int Runs { get; init; }
    /// <summary>The preset's maximum epochs.</summary>
    public int MaxEpochs { get; init; }
    /// <summary>The epochs a run is expected to train (typical epochs, at most the maximum).</summary>
    public double ExpectedEpochs { get; init; }
    /// <summary>Training pairs of the shape.</summary>
    public long TrainPairs { get; init; }
    /// <summary>Negatives per positive of the preset.</summary>
    public int Negatives { get; init; }
    /// <summary>Measured triples/s (NaN for a model that does not train).</summary>
    public double TriplesPerSecond { get; init; }
    /// <summary>Measured full-ranking scores/s (users × items / full-ranking seconds).</summary>
    public double ScoresPerSecond { get; init; }
    /// <summary>Runs × run seconds at the maximum epochs.</summary>
    public double AtMostSeconds { get; init; }
    /// <summary>Runs × run seconds at the expected epochs.</summary>
    public double ExpectedSeconds { get; init; }
    /// <summary>Measured lazy-adam triples/s on the same engine (null when the model has no lazy-adam row).</summary>
    public double? LazyTriplesPerSecond { get; init; }
    /// <summary>Runs × run seconds at the expected epochs with lazy-adam's triples/s (<see cref="ExpectedSeconds"/> without a lazy-adam row).</summary>
    public double LazyExpectedSeconds { get; init; }
}

/// <summary>A target of the performance issue checked against this run.</summary>
/// <param name="Target">The target, in words.</param>
/// <param name="Measured">The measured value with its unit.</param>
/// <param name="Met">Whether this run met it (on a shared machine, read together with the load average).</param>
public sealed record TargetCheck(string Target, string Measured, bool Met);

/// <summary>The machine a bench ran on.</summary>
public sealed record MachineInfo
{
    /// <summary>CPU model name (/proc/cpuinfo).</summary>
    public string CpuModel { get; init; } = "";
    /// <summary>Logical processors visible to the process.</summary>
    public int LogicalCores { get; init; }
    /// <summary>AVX2 available.</summary>
    public bool Avx2 { get; init; }
    /// <summary>AVX-512F available.</summary>
    public bool Avx512 { get; init; }
    /// <summary>Whether .NET accelerates Vector512 on this CPU.</summary>
    public bool Vector512Accelerated { get; init; }
    /// <summary>Floats per System.Numerics.Vector (the fused engine's SIMD width).</summary>
    public int VectorFloats { get; init; }
    /// <summary>Process architecture.</summary>
    public string Architecture { get; init; } = "";
    /// <summary>Operating system.</summary>
    public string Os { get; init; } = "";
    /// <summary>.NET runtime.</summary>
    public string DotNet { get; init; } = "";
    /// <summary>TorchSharp package version.</summary>
    public string? TorchSharp { get; init; }
    /// <summary>Memory available to the process, bytes.</summary>
    public long TotalMemoryBytes { get; init; }
    /// <summary>/proc/loadavg at the start and end: other processes make timings noisy.</summary>
    public string? LoadAverageStart { get; init; }
    /// <summary>/proc/loadavg at the end of the run.</summary>
    public string? LoadAverageEnd { get; init; }

    /// <summary>Describes this machine.</summary>
    public static MachineInfo Current() => new()
    {
        CpuModel = CpuName(),
        LogicalCores = Environment.ProcessorCount,
        Avx2 = System.Runtime.Intrinsics.X86.Avx2.IsSupported,
        Avx512 = Avx512F.IsSupported,
        Vector512Accelerated = Vector512.IsHardwareAccelerated,
        VectorFloats = System.Numerics.Vector<float>.Count,
        Architecture = RuntimeInformation.ProcessArchitecture.ToString(),
        Os = RuntimeInformation.OSDescription,
        DotNet = RuntimeInformation.FrameworkDescription,
        TorchSharp = TorchSharpVersion(),
        TotalMemoryBytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        LoadAverageStart = LoadAverage(),
    };

    private static string CpuName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER") ?? RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string? TorchSharpVersion()
    {
        var asm = typeof(TorchSharp.torch).Assembly;
        var info = asm.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        return (info ?? asm.GetName().Version?.ToString())?.Split('+')[0];
    }

    /// <summary>The three load averages of /proc/loadavg, or null off Linux.</summary>
    public static string? LoadAverage()
    {
        try { return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null; }
        catch (IOException) { return null; }
    }
}
