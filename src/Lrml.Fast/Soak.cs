using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lrml.Reproduction.Plots;
using Lrml.Training;
using Lrml.Util;

using Lrml.Experiments;

namespace Lrml.Fast;

/// <summary>Settings of a memory soak (<see cref="Soak.Run"/>).</summary>
public sealed record SoakOptions
{
    /// <summary>Dataset to train on (ML-1M in the issue's acceptance run).</summary>
    public string Dataset { get; init; } = "ml-1m";
    /// <summary>Protocol, or null for the dataset's default.</summary>
    public string? Protocol { get; init; }
    /// <summary>Model name.</summary>
    public string Model { get; init; } = "lrml";
    /// <summary>Engines to soak one after the other ("torch" = the TorchSharp autograd model, "fused" = the CPU fast path).</summary>
    public IReadOnlyList<string> Engines { get; init; } = ["torch", "fused"];
    /// <summary>Epochs per engine; early stopping is off so every epoch runs.</summary>
    public int Epochs { get; init; } = 100;
    /// <summary>Validate every this many epochs (validation allocates too, so it is part of the soak).</summary>
    public int EvalEvery { get; init; } = 1;
    /// <summary>Model settings (key=value).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = [];
    /// <summary>Seed of the runs.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>Compute threads.</summary>
    public int Threads { get; init; } = 2;
    /// <summary>Positives per batch.</summary>
    public int BatchSize { get; init; } = 1024;
    /// <summary>Epoch from which growth and slope are measured (earlier epochs are warm-up: allocator pools, JIT, caches).</summary>
    public int WarmupEpochs { get; init; } = 10;
}

/// <summary>Memory of the process after one epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Seconds">Wall seconds since the engine's run started.</param>
/// <param name="ResidentMiB">Resident set (VmRSS) after the epoch, MiB.</param>
/// <param name="ManagedMiB">.NET managed heap in use after the epoch, MiB (without forcing a collection).</param>
/// <param name="Loss">Mean training loss of the epoch.</param>
public sealed record SoakSample(int Epoch, double Seconds, double ResidentMiB, double ManagedMiB, double Loss);

/// <summary>One engine's soak: its per-epoch samples and the summary numbers.</summary>
public sealed record SoakSeries
{
    public required string Engine { get; init; }
    public required List<SoakSample> Samples { get; init; }
    /// <summary>Resident MiB before the run started (after a full collection).</summary>
    public double StartMiB { get; init; }
    /// <summary>Resident MiB after the warm-up epoch.</summary>
    public double WarmMiB { get; init; }
    /// <summary>Resident MiB after the last epoch.</summary>
    public double LastMiB { get; init; }
    /// <summary>Highest resident MiB after any epoch.</summary>
    public double MaxMiB { get; init; }
    /// <summary>Least-squares slope of the resident set over the post-warm-up epochs, KiB per epoch.</summary>
    public double SlopeKiBPerEpoch { get; init; }
    /// <summary>Least-squares slope of the managed heap over the post-warm-up epochs, KiB per epoch.</summary>
    public double ManagedSlopeKiBPerEpoch { get; init; }
    /// <summary>Whether the resident set is flat: the fitted post-warm-up growth is under <see cref="Soak.FlatToleranceMiB"/>
    /// MiB and under <see cref="Soak.FlatToleranceFraction"/> of the warm resident set.</summary>
    public bool Flat { get; init; }
    /// <summary>Median training seconds per epoch.</summary>
    public double MedianEpochSeconds { get; init; }
}

/// <summary>A soak's result: environment, settings and one series per engine.</summary>
public sealed record SoakReport
{
    public string StartedUtc { get; init; } = "";
    public Dictionary<string, string> Hardware { get; init; } = new();
    public string Commit { get; init; } = "";
    public SoakOptions? Options { get; init; }
    public string DatasetDescription { get; init; } = "";
    public List<SoakSeries> Series { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>A Markdown summary table.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"Memory soak — {DatasetDescription}, {Options?.Epochs} epochs per engine, seed {Options?.Seed}, {Options?.Threads} threads, " +
                      $"{Hardware.GetValueOrDefault("cpu")}, commit {Commit}");
        sb.AppendLine();
        sb.AppendLine($"| engine | RSS start MiB | RSS after epoch {Options?.WarmupEpochs} | RSS last | RSS max | slope after warm-up (KiB/epoch) | managed slope (KiB/epoch) | flat | s/epoch (median) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var s in Series)
            sb.AppendLine(string.Create(c, $"| {s.Engine} | {s.StartMiB:F0} | {s.WarmMiB:F0} | {s.LastMiB:F0} | {s.MaxMiB:F0} | {s.SlopeKiBPerEpoch:F1} | {s.ManagedSlopeKiBPerEpoch:F1} | {(s.Flat ? "yes" : "NO")} | {s.MedianEpochSeconds:F2} |"));
        sb.AppendLine();
        sb.AppendLine(string.Create(c, $"Flat means the least-squares resident growth over epochs {Options?.WarmupEpochs}–{Options?.Epochs} is below {Soak.FlatToleranceMiB:F0} MiB and below {Soak.FlatToleranceFraction:P0} of the warm resident set. Engines run one after the other in one process, so a later engine starts from the memory the earlier one left to the allocator."));
        return sb.ToString();
    }
}

/// <summary>
/// Memory soak: trains a model for many epochs (no early stopping) per engine, samples the process's resident set and
/// managed heap after every epoch, and fits the growth after warm-up. A leak of one batch's tensors per step shows as
/// a slope of megabytes per epoch; per-batch disposal keeps it at the allocator's noise.
/// </summary>
public static class Soak
{
    /// <summary>Growth allowed over the measured epochs before the run is called not flat, MiB.</summary>
    public const double FlatToleranceMiB = 32;
    /// <summary>Growth allowed as a fraction of the warm resident set.</summary>
    public const double FlatToleranceFraction = 0.05;

    /// <summary>Runs the soak; each engine's run directory goes under <paramref name="directory"/> (replaced when it exists).</summary>
    public static SoakReport Run(SoakOptions options, ExperimentContext context, string directory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Epochs < 2) throw new ArgumentException($"A soak needs at least 2 epochs (got {options.Epochs}).");
        if (options.Engines.Count == 0) throw new ArgumentException("A soak needs at least one engine.");
        int warm = Math.Clamp(options.WarmupEpochs, 1, options.Epochs - 1);
        var report = new SoakReport
        {
            StartedUtc = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            Hardware = new Dictionary<string, string>(Provenance.Machine()),
            Commit = Provenance.Commit,
            Options = options with { WarmupEpochs = warm },
        };
        var series = new List<SoakSeries>();
        string description = "";
        foreach (var engine in options.Engines)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            double start = ResidentMiB();
            var spec = new RunSpec
            {
                Dataset = options.Dataset,
                Protocol = options.Protocol,
                Model = options.Model,
                Engine = engine,
                Settings = options.Settings,
                FullRanking = false,
                Train = new TrainConfig
                {
                    Epochs = options.Epochs, Patience = 0, EvalEvery = options.EvalEvery, Seed = options.Seed,
                    Threads = options.Threads, BatchSize = options.BatchSize,
                },
            };
            var recorder = new Recorder(context.Observer, engine);
            var ctx = new ExperimentContext
            {
                Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = recorder, Overwrite = true,
                SaveCheckpoints = context.SaveCheckpoints, KeepCheckpoints = context.KeepCheckpoints,
            };
            var outcome = Experiment.Run(spec, ctx, Path.Combine(directory, "runs", engine));
            description = $"{outcome.Result.Dataset} ({outcome.Result.Protocol})";
            series.Add(Summarise(engine, recorder.Samples, start, warm));
        }
        var result = report with { Series = series, DatasetDescription = description };
        Save(result, directory, context.Observer);
        return result;
    }

    /// <summary>The summary of one engine's samples (exposed for tests).</summary>
    public static SoakSeries Summarise(string engine, List<SoakSample> samples, double startMiB, int warmupEpochs)
    {
        if (samples.Count == 0) throw new ArgumentException("No samples.", nameof(samples));
        var after = samples.Where(s => s.Epoch >= warmupEpochs).ToList();
        if (after.Count < 2) after = samples;
        double warmMiB = after[0].ResidentMiB;
        double slope = Slope(after.Select(s => (double)s.Epoch).ToArray(), after.Select(s => s.ResidentMiB).ToArray());
        double mslope = Slope(after.Select(s => (double)s.Epoch).ToArray(), after.Select(s => s.ManagedMiB).ToArray());
        double growth = slope * (after[^1].Epoch - after[0].Epoch);
        var perEpoch = samples.Select((s, i) => i == 0 ? s.Seconds : s.Seconds - samples[i - 1].Seconds).OrderBy(x => x).ToArray();
        return new SoakSeries
        {
            Engine = engine,
            Samples = samples,
            StartMiB = startMiB,
            WarmMiB = warmMiB,
            LastMiB = samples[^1].ResidentMiB,
            MaxMiB = samples.Max(s => s.ResidentMiB),
            SlopeKiBPerEpoch = slope * 1024,
            ManagedSlopeKiBPerEpoch = mslope * 1024,
            Flat = growth < FlatToleranceMiB && growth < FlatToleranceFraction * warmMiB,
            MedianEpochSeconds = perEpoch[perEpoch.Length / 2],
        };
    }

    /// <summary>Ordinary least-squares slope of y on x (0 for fewer than two points or constant x).</summary>
    public static double Slope(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException("x and y differ in length.");
        int n = x.Count;
        if (n < 2) return 0;
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); }
        return sxx == 0 ? 0 : sxy / sxx;
    }

    /// <summary>The resident set of this process in MiB.</summary>
    private static double ResidentMiB() => ProcessMemory.ResidentBytes() / (1024.0 * 1024.0);

    /// <summary>The resident-memory chart: RSS per epoch (top) and managed heap (bottom), one line per engine.</summary>
    public static NamedChart Chart(SoakReport report) =>
        new("soak-memory", Charts.LinePanels(
        [
            ("resident set (MiB)", report.Series.Select(s => new Series(s.Engine, s.Samples.Select(x => (double)x.Epoch).ToList(), s.Samples.Select(x => x.ResidentMiB).ToList())).ToList()),
            ("managed heap (MiB)", report.Series.Select(s => new Series(s.Engine, s.Samples.Select(x => (double)x.Epoch).ToList(), s.Samples.Select(x => x.ManagedMiB).ToList())).ToList()),
        ], "epoch", $"Memory over {report.Options?.Epochs} epochs — {report.DatasetDescription}", yFromZero: true));

    private static void Save(SoakReport report, string directory, IRunObserver observer)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "soak.json"), report.ToJson());
        AtomicFile.WriteAllText(Path.Combine(directory, "soak.md"), report.ToMarkdown());
        var rows = report.Series.SelectMany(s => s.Samples.Select(x => (IReadOnlyList<string>)
            [s.Engine, x.Epoch.ToString(CultureInfo.InvariantCulture), CsvText.Number(x.Seconds), CsvText.Number(x.ResidentMiB), CsvText.Number(x.ManagedMiB), CsvText.Number(x.Loss)]));
        AtomicFile.WriteAllText(Path.Combine(directory, "soak.csv"), CsvText.Build(["engine", "epoch", "seconds", "rss_mib", "managed_mib", "loss"], rows));
        ChartFiles.Save([Chart(report)], directory, png: true, observer);
    }

    /// <summary>Forwards everything to the user's observer and samples memory at each epoch end.</summary>
    private sealed class Recorder(IRunObserver inner, string engine) : IRunObserver
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        public List<SoakSample> Samples { get; } = [];
        public void Message(string text) => inner.Message(text);
        public void RunStarted(RunSpec spec, string description) { _clock.Restart(); inner.RunStarted(spec, $"[soak: {engine}] {description}"); }
        public void Progress(TrainProgress progress) => inner.Progress(progress);
        public void RunFinished(RunResult result) => inner.RunFinished(result);
        public void Epoch(EpochRecord record)
        {
            Samples.Add(new SoakSample(record.Epoch, _clock.Elapsed.TotalSeconds, ResidentMiB(), GC.GetTotalMemory(false) / (1024.0 * 1024.0), record.MeanLoss));
            inner.Epoch(record);
        }
    }
}
