using Lrml.Models;
using Lrml.Reproduction;

namespace Lrml.Fast.Bench;

/// <summary>Model size of one bench configuration.</summary>
/// <param name="Dim">Embedding dimension d.</param>
/// <param name="Slots">Memory slots N.</param>
public sealed record BenchModelShape(int Dim, int Slots)
{
    public override string ToString() => $"d={Dim},N={Slots}";

    /// <summary>Parses "DxN" (e.g. 50x10) or "d=50,N=10".</summary>
    /// <exception cref="ArgumentException">The text is neither form or a number is not positive.</exception>
    public static BenchModelShape Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().Replace(" ", "", StringComparison.Ordinal);
        string[] parts = t.Contains('=') ? t.Split(',') : t.Split('x', 'X');
        if (parts.Length == 2)
        {
            string a = parts[0], b = parts[1];
            if (t.Contains('='))
            {
                if (!a.StartsWith("d=", StringComparison.OrdinalIgnoreCase) || !b.StartsWith("N=", StringComparison.OrdinalIgnoreCase)) a = b = "";
                else { a = a[2..]; b = b[2..]; }
            }
            if (int.TryParse(a, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int d) && d > 0
                && int.TryParse(b, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0)
                return new BenchModelShape(d, n);
        }
        throw new ArgumentException($"Model shape '{text}': expected DxN (e.g. 50x10) or d=D,N=N with positive integers.");
    }
}

/// <summary>Creates the reference (TorchSharp) engine for a bench run: config, initial weights, threads.</summary>
public delegate ITrainableRecommender BenchReferenceFactory(LrmlConfig config, LrmlParameters initial, int threads);

/// <summary>
/// What <see cref="BenchRunner.Run"/> measures. Defaults are the full run of the performance issue; use
/// <see cref="QuickMode"/> for CI (tiny shape, seconds).
/// </summary>
public sealed record BenchOptions
{
    /// <summary>Shapes to run: "ml-1m", "ml-20m", "netflix" (and "tiny").</summary>
    public IReadOnlyList<string> Shapes { get; init; } = ["ml-1m", "ml-20m", "netflix"];

    /// <summary>Model sizes to train (the issue's d=100,N=20 and d=50,N=10).</summary>
    public IReadOnlyList<BenchModelShape> Models { get; init; } = [new(100, 20), new(50, 10)];

    /// <summary>Registry models measured at their full-profile preset through every engine the registry offers for them (default:
    /// every registered model that trains). Empty skips them (and the full-profile projection).</summary>
    public IReadOnlyList<string> Baselines { get; init; } = TrainableModels();

    /// <summary>Typical epochs of finished runs for the projection's "expected" time (null: the maximum epochs).</summary>
    public TypicalEpochs? TypicalEpochs { get; init; }

    /// <summary>Every registered model that trains (popularity does not), in registration order.</summary>
    public static IReadOnlyList<string> TrainableModels() => ModelRegistry.All.Where(e => !e.Deterministic).Select(e => e.Name).ToArray();

    /// <summary>Threads of the fused engine, of the sampler, of evaluation and of torch (set explicitly).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Positives per batch.</summary>
    public int BatchSize { get; init; } = 1024;

    /// <summary>Negatives per positive.</summary>
    public int Negatives { get; init; } = 1;

    /// <summary>Optimiser of the fused engine's main measurement (LazyAdam = the fast row-sparse default).</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.LazyAdam;

    /// <summary>Also measure the fused engine with exact dense Adam (fixed steps).</summary>
    public bool MeasureFusedDenseAdam { get; init; } = true;

    /// <summary>Extra rows: a registry model at its preset with some settings changed ("cml" with rank_weighting=warp by default,
    /// so CML+WARP's own sampling is measured). Each is measured through the model's engines like the preset (training only).</summary>
    public IReadOnlyList<BenchVariant> Variants { get; init; } = [new("cml", [new("rank_weighting", "warp")])];

    /// <summary>Also measure every registry model whose preset trains with exact Adam on its fast engine with row-sparse LazyAdam.</summary>
    public bool MeasureRegistryLazyAdam { get; init; } = true;

    /// <summary>Repeats per measurement; the report keeps every run and their median.</summary>
    public int Repeats { get; init; } = 5;

    /// <summary>Steps per fixed-step repeat (shapes whose epoch is not run in full per repeat).</summary>
    public int StepsPerRepeat { get; init; } = 400;

    /// <summary>Seconds of training before measuring (JIT tiering, caches).</summary>
    public double WarmupSeconds { get; init; } = 1.0;

    /// <summary>Shapes with at most this many training pairs are measured by whole epochs (every repeat an epoch).</summary>
    public long EpochRepeatMaxPairs { get; init; } = 2_000_000;

    /// <summary>Shapes with at most this many pairs get one full measured epoch (sampling included) beside the
    /// fixed-step repeats; larger shapes report an epoch extrapolated from the median throughput.</summary>
    public long FullEpochMaxPairs { get; init; } = 25_000_000;

    /// <summary>Full epochs measured on such shapes; the median is reported (one epoch alone was at the mercy of
    /// the shared machine: 15.8–20.3 s for the same ML-20M d=100 epoch in three runs of one evening).</summary>
    public int FullEpochRepeats { get; init; } = 3;

    /// <summary>Run the evaluation measurements.</summary>
    public bool Evaluate { get; init; } = true;

    /// <summary>Full ranking on at most this many users; more users are extrapolated (and say so).</summary>
    public int FullRankingMaxUsers { get; init; } = 8192;

    /// <summary>Sampled evaluation on at most this many users; more users are extrapolated.</summary>
    public int SampledMaxUsers { get; init; } = 200_000;

    /// <summary>Users per ScoreAllItems call (bounded memory: chunk × items floats).</summary>
    public int EvalUserChunk { get; init; } = 256;

    /// <summary>Run the TorchSharp dense-Adam reference in the same process for the side-by-side ratio.</summary>
    public bool Reference { get; init; } = true;

    /// <summary>Steps per reference repeat.</summary>
    public int ReferenceSteps { get; init; } = 20;

    /// <summary>Reference repeats (median).</summary>
    public int ReferenceRepeats { get; init; } = 3;

    /// <summary>Creates the reference engine; null = <see cref="BenchRunner.TorchReference"/> (TorchSharp LrmlModel).</summary>
    public BenchReferenceFactory? ReferenceFactory { get; init; }

    /// <summary>Run seed (data, initial weights, sampling).</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Where to write the JSON report (atomically); null = do not write.</summary>
    public string? OutputPath { get; init; }

    /// <summary>Progress lines.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>A CI-sized run: the tiny shape, a few steps, both model sizes, evaluation and reference.</summary>
    public static BenchOptions QuickMode { get; } = new()
    {
        Shapes = ["tiny"], Repeats = 3, StepsPerRepeat = 10, WarmupSeconds = 0.05, ReferenceSteps = 3, ReferenceRepeats = 2, FullEpochRepeats = 1,
        FullRankingMaxUsers = 256, SampledMaxUsers = 600,
    };

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Shapes.Count == 0) throw new ArgumentException("Shapes must not be empty.");
        foreach (var s in Shapes) ShapeSpec.Parse(s);
        if (Models.Count == 0 && Baselines.Count == 0) throw new ArgumentException("Models and Baselines must not both be empty.");
        foreach (var v in Variants) ModelRegistry.Get(v.Model).CheckSettings(v.Settings);
        foreach (var b in Baselines)
            if (ModelRegistry.Get(b).Deterministic) throw new ArgumentException($"Model '{b}' has nothing to train: the bench measures {string.Join(", ", TrainableModels())}.");
        if (Threads < 1) throw new ArgumentException($"Threads must be ≥ 1 (got {Threads}).");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1 (got {BatchSize}).");
        if (Negatives < 1) throw new ArgumentException($"Negatives must be ≥ 1 (got {Negatives}).");
        if (Repeats < 1 || StepsPerRepeat < 1 || ReferenceSteps < 1 || ReferenceRepeats < 1 || FullEpochRepeats < 1)
            throw new ArgumentException("Repeats and step counts must be ≥ 1.");
        if (FullRankingMaxUsers < 1 || SampledMaxUsers < 1 || EvalUserChunk < 1)
            throw new ArgumentException("Evaluation user limits must be ≥ 1.");
    }
}

/// <summary>A registry model at its preset with <paramref name="Settings"/> changed, measured as an extra bench row.</summary>
public sealed record BenchVariant(string Model, IReadOnlyList<KeyValuePair<string, string>> Settings)
{
    /// <summary>"model:key=value,key=value" (the CLI's --variant).</summary>
    public static BenchVariant Parse(string text)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1) throw new ArgumentException($"Bench variant '{text}': expected model:key=value[,key=value], e.g. cml:rank_weighting=warp.");
        return new(text[..colon].Trim(), ConfigBinder.ParsePairs(text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
    }

    /// <summary>The settings as "key=value,…".</summary>
    public string Label => string.Join(",", Settings.Select(kv => $"{kv.Key}={kv.Value}"));
}
