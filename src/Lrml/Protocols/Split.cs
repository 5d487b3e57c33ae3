using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>
/// A train / validation / test split of one dataset under one protocol, in the dataset's index space,
/// together with the frozen sampled candidates every model is evaluated on. A split is built once
/// (seeded), saved with its candidates, and shared by every model of an experiment.
/// </summary>
public sealed class Split
{
    /// <summary>Dataset name, e.g. "ml-1m".</summary>
    public required string Dataset { get; init; }

    /// <summary>Protocol name, e.g. "leave-last-out", "ncf".</summary>
    public required string Protocol { get; init; }

    /// <summary>Seed used to build the split and its candidates (0 when nothing was random).</summary>
    public long Seed { get; init; }

    /// <summary>Training positives per user (what models learn from).</summary>
    public required UserItems Train { get; init; }

    /// <summary>Held-out validation positives per user (early stopping and tuning only).</summary>
    public required UserItems Validation { get; init; }

    /// <summary>Held-out test positives per user (reported once, never used to choose anything).</summary>
    public required UserItems Test { get; init; }

    /// <summary>Frozen sampled negatives for validation, or null when validation uses full ranking only.</summary>
    public UserItems? ValidationNegatives { get; init; }

    /// <summary>Frozen sampled negatives for test (e.g. the 99 published NCF negatives), or null.</summary>
    public UserItems? TestNegatives { get; init; }

    /// <summary>Raw user ids of the index space.</summary>
    public IdMap? UserIds { get; init; }

    /// <summary>Raw item ids of the index space.</summary>
    public IdMap? ItemIds { get; init; }

    /// <summary>Facts about how the split was built worth reporting (e.g. duplicates dropped).</summary>
    public Dictionary<string, string> Notes { get; init; } = new();

    /// <summary>
    /// A copy with some parts replaced (parts not given are shared with this split, not copied).
    /// Used to attach frozen candidates or add notes without rebuilding the split.
    /// </summary>
    public Split With(UserItems? train = null, UserItems? validation = null, UserItems? test = null,
        UserItems? validationNegatives = null, UserItems? testNegatives = null, Dictionary<string, string>? notes = null) => new()
    {
        Dataset = Dataset, Protocol = Protocol, Seed = Seed,
        Train = train ?? Train, Validation = validation ?? Validation, Test = test ?? Test,
        ValidationNegatives = validationNegatives ?? ValidationNegatives, TestNegatives = testNegatives ?? TestNegatives,
        UserIds = UserIds, ItemIds = ItemIds, Notes = notes ?? new Dictionary<string, string>(Notes),
    };

    public int NumUsers => Train.NumUsers;
    public int NumItems => Train.NumItems;

    public override string ToString() =>
        $"{Dataset}/{Protocol}: train {Train.Count:N0}, validation {Validation.Count:N0}, test {Test.Count:N0}" +
        (TestNegatives is null ? "" : FormattableString.Invariant($", {(double)TestNegatives.Count / Math.Max(1, TestNegatives.UsersWithItems()):0.##} sampled negatives per test user (mean)"));
}
