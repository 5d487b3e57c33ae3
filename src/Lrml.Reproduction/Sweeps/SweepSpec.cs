using Lrml.Training;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction.Sweeps;

/// <summary>How much a sweep spends by default.</summary>
public enum SweepProfile
{
    /// <summary>8 trials, 3 final seeds, at most 20 epochs with patience 3 (a laptop-sized comparison).</summary>
    Quick,
    /// <summary>20 trials, 5 final seeds, at most 50 epochs with patience 5.</summary>
    Full,
}

/// <summary>
/// One tuning sweep of one model: what to search, how many trials, how to select, and the seeds of the final runs.
/// Values left null take the <see cref="Profile"/>'s defaults (see <see cref="EffectiveTrials"/> etc.), so every model of a
/// comparison gets the same budget unless told otherwise.
/// </summary>
public sealed record SweepSpec
{
    /// <summary>Dataset name.</summary>
    public required string Dataset { get; init; }

    /// <summary>Protocol, or null for the dataset's default.</summary>
    public string? Protocol { get; init; }

    /// <summary>Model name (registry).</summary>
    public required string Model { get; init; }

    /// <summary>Engine, or null for the model's default.</summary>
    public string? Engine { get; init; }

    /// <summary>Search space; null = the model's declared default space (<see cref="DefaultSpaces"/>).</summary>
    public SearchSpace? Space { get; init; }

    /// <summary>Fixed settings applied to every trial and final run (model or trainer keys), after the space's values.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = [];

    /// <summary>Grid or random search.</summary>
    public SearchKind Search { get; init; } = SearchKind.Grid;

    /// <summary>Trials budget; null = the profile's (8 quick, 20 full).</summary>
    public int? Trials { get; init; }

    /// <summary>Validation metric that selects the configuration (and each run's best epoch); higher is better. Test metrics
    /// are recorded but never read for selection.</summary>
    public string SelectionMetric { get; init; } = "nDCG@10";

    /// <summary>Number of final seeds; null = the profile's (3 quick, 5 full). Final seeds are FirstSeed, FirstSeed+1, …</summary>
    public int? Seeds { get; init; }

    /// <summary>First seed; trials run with this seed, so the chosen trial is also the first final run.</summary>
    public long FirstSeed { get; init; } = 1;

    /// <summary>Budget profile.</summary>
    public SweepProfile Profile { get; init; } = SweepProfile.Quick;

    /// <summary>Maximum epochs; null = the profile's (20 quick, 50 full). A space or setting key "epochs" overrides it.</summary>
    public int? Epochs { get; init; }

    /// <summary>Early-stopping patience; null = the profile's (3 quick, 5 full).</summary>
    public int? Patience { get; init; }

    /// <summary>Epochs before early stopping may end a run; null = the profile's (5 quick, 10 full). Without it a slow starter
    /// (a BPR-MF trial whose validation metric is flat for its first epochs) is ended at popularity level while its loss still
    /// falls fast, and the search discards a configuration it never saw train.</summary>
    public int? MinEpochs { get; init; }

    /// <summary>Whether trial 0 of a search over the model's declared default space is the model's default configuration (on by
    /// default; see <see cref="Sweep.WithDefaultFirst"/>). A space given with <see cref="Space"/> is searched exactly as given.</summary>
    public bool DefaultFirst { get; init; } = true;

    /// <summary>Base training settings (threads, batch size, negatives, evaluation cadence); space/setting keys override.</summary>
    public TrainConfig Train { get; init; } = new();

    /// <summary>Seed of the split (fixed for every model of a comparison).</summary>
    public long SplitSeed { get; init; } = new RunSpec { Dataset = "", Model = "" }.SplitSeed;

    /// <summary>Sampled negatives per held-out item (null: the protocol default, 99 for ncf and 100 otherwise).</summary>
    public int? SampledNegatives { get; init; }

    /// <summary>Also compute full-ranking test metrics.</summary>
    public bool FullRanking { get; init; } = true;

    /// <summary>Seed of the trial list (grid subset or random draws), fixed so a re-run resumes the same trials.</summary>
    public long SearchSeed { get; init; } = 1;

    /// <summary>Sweep folder name under sweeps/&lt;dataset&gt;/&lt;protocol&gt;/ (default: the model name).</summary>
    public string? Name { get; init; }

    /// <summary>NeuMF only: the directories of a finished GMF sweep and MLP sweep (chosen.json) whose chosen configurations
    /// pre-train NeuMF (NCF §3.4.1) at every seed; the NeuMF space then must not change dim or layers.</summary>
    public (string Gmf, string Mlp)? PretrainFrom { get; init; }

    /// <summary>Trials budget in effect.</summary>
    public int EffectiveTrials => Trials ?? (Profile == SweepProfile.Full ? 20 : 8);
    /// <summary>Number of final seeds in effect.</summary>
    public int EffectiveSeeds => Seeds ?? (Profile == SweepProfile.Full ? 5 : 3);
    /// <summary>Epoch cap in effect.</summary>
    public int EffectiveEpochs => Epochs ?? (Profile == SweepProfile.Full ? 50 : 20);
    /// <summary>Patience in effect.</summary>
    public int EffectivePatience => Patience ?? (Profile == SweepProfile.Full ? 5 : 3);

    /// <summary>Minimum epochs in effect (never above the epoch cap).</summary>
    public int EffectiveMinEpochs => Math.Min(EffectiveEpochs, MinEpochs ?? (Profile == SweepProfile.Full ? 10 : 5));

    /// <summary>Checks the spec; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Dataset)) throw new ArgumentException("A sweep needs a dataset.");
        if (string.IsNullOrWhiteSpace(Model)) throw new ArgumentException("A sweep needs a model.");
        if (EffectiveTrials < 1) throw new ArgumentException($"Trials must be ≥ 1 (got {EffectiveTrials}).");
        if (EffectiveSeeds < 1) throw new ArgumentException($"Seeds must be ≥ 1 (got {EffectiveSeeds}).");
        if (EffectiveEpochs < 1) throw new ArgumentException($"Epochs must be ≥ 1 (got {EffectiveEpochs}).");
        if (EffectivePatience < 0) throw new ArgumentException($"Patience must be ≥ 0 (got {EffectivePatience}).");
        if (MinEpochs < 0) throw new ArgumentException($"MinEpochs must be ≥ 0 (got {MinEpochs}).");
        if (string.IsNullOrWhiteSpace(SelectionMetric)) throw new ArgumentException("A sweep needs a selection metric.");
        if (SelectionMetric.StartsWith("full/", StringComparison.Ordinal) || SelectionMetric.StartsWith("test", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"The selection metric '{SelectionMetric}' must be a validation metric name such as nDCG@10.");
        if (Name is not null && (Name.Length == 0 || Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || Name.Contains('/')))
            throw new ArgumentException($"Sweep name '{Name}' is not a valid folder name.");
        if (PretrainFrom is not null && ModelRegistry.Get(Model).Name != "neumf")
            throw new ArgumentException("PretrainFrom applies to the neumf model only.");
    }
}
