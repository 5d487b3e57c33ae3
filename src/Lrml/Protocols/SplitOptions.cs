namespace Lrml.Protocols;

/// <summary>Options every splitter shares.</summary>
public abstract record SplitOptions
{
    /// <summary>Frozen sampled negatives drawn per user for validation and for test (0 = none: full ranking only).
    /// Drawn by <see cref="CandidateSampler"/> uniformly over the items the user never interacted with.</summary>
    public int SampledNegatives { get; init; } = 99;
}

/// <summary>Options of <see cref="LeaveLastOut"/>.</summary>
public sealed record LeaveLastOutOptions : SplitOptions
{
    /// <summary>Hold out each user's second-latest interaction as validation (users with at least 3 interactions).</summary>
    public bool HoldOutValidation { get; init; } = true;

    /// <summary>When the data has no timestamps, use file order as time (later line = later) instead of failing.</summary>
    public bool FileOrderWhenNoTimestamps { get; init; } = false;
}

/// <summary>Options of <see cref="RandomLeaveOneOut"/>.</summary>
internal sealed record RandomLeaveOneOutOptions : SplitOptions
{
    /// <summary>Hold out a second random item per user as validation (users with at least 3 interactions).</summary>
    public bool HoldOutValidation { get; init; } = true;
}

/// <summary>Options of <see cref="RatioSplit"/>. The three ratios must be non-negative and sum to 1.</summary>
internal sealed record RatioSplitOptions : SplitOptions
{
    /// <summary>Fraction of interactions for training.</summary>
    public double TrainRatio { get; init; } = 0.8;

    /// <summary>Fraction of interactions for validation (0 = no validation set).</summary>
    public double ValidationRatio { get; init; } = 0.1;

    /// <summary>Fraction of interactions for test.</summary>
    public double TestRatio { get; init; } = 0.1;

    /// <summary>Split all interactions at once (users may end up with no training item) instead of per user.</summary>
    public bool Global { get; init; } = false;
}

/// <summary>Options of <see cref="GlobalTemporal"/>: the cut times are the quantiles of the interaction times.</summary>
internal sealed record GlobalTemporalOptions : SplitOptions
{
    /// <summary>Quantile of interaction time where validation starts (train = strictly before it).</summary>
    public double TrainFraction { get; init; } = 0.8;

    /// <summary>Width of the validation window in quantiles (0 = no validation set); test starts at TrainFraction + ValidationFraction.</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>When the data has no timestamps, use file order as time instead of failing.</summary>
    public bool FileOrderWhenNoTimestamps { get; init; } = false;
}

/// <summary>Options of <see cref="NcfPublic"/>.</summary>
public sealed record NcfPublicOptions : SplitOptions
{
    /// <summary>Hold out one random training item per user as validation (with its own sampled negatives).</summary>
    public bool HoldOutValidation { get; init; } = true;

    /// <summary>Path of an original <c>ml-1m.train.rating</c>; null = use <c>ml-1m.train.rating</c> in the NCF directory
    /// when it exists. When read, it must equal the rebuilt training set.</summary>
    public string? TrainFile { get; init; }

    /// <summary>Number of negatives every line of <c>ml-1m.test.negative</c> must list (99 in the published file).</summary>
    public int ExpectedNegativesPerLine { get; init; } = 99;
}
