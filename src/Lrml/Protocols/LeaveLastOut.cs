using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>
/// Temporal leave-one-out (the protocol of the LRML paper's period, as in NCF): per user, the latest interaction
/// is the test item and the second-latest the validation item; everything earlier is training.
/// <list type="bullet">
/// <item>Order: timestamp ascending; interactions with equal timestamps are ordered by their position in the
/// source file (a later line counts as later), so the split is deterministic.</item>
/// <item>Repeated (user, item) pairs are merged into their earliest occurrence before splitting
/// (note <c>duplicate_pairs_merged</c>), so a pair is never both trained on and held out.</item>
/// <item>Users with fewer than 2 distinct items keep everything in train and have no test item
/// (note <c>leave-last-out.users_train_only</c>); users with exactly 2 get a test item but no validation item
/// (note <c>leave-last-out.users_without_validation</c>).</item>
/// </list>
/// No randomness is involved except the sampled candidates (seeded by <c>seed</c>).
/// </summary>
public static class LeaveLastOut
{
    /// <summary>Protocol name stored in <see cref="Split.Protocol"/>.</summary>
    public const string ProtocolName = "leave-last-out";

    /// <summary>Splits with default options.</summary>
    public static Split Build(Interactions data, long seed) => Build(data, new LeaveLastOutOptions(), seed);

    /// <summary>Splits <paramref name="data"/>; <paramref name="seed"/> seeds the frozen sampled candidates.</summary>
    public static Split Build(Interactions data, LeaveLastOutOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var time = UserSequences.TimeColumn(data, options.FileOrderWhenNoTimestamps, ProtocolName, out string order);
        var seq = UserSequences.Build(data, time);
        return SplitBuilding.LeaveOneOutPerUser(data, seq, ProtocolName, seed, options, options.HoldOutValidation,
            (n, withValidation) => (n - 1, withValidation ? n - 2 : -1),
            new Dictionary<string, string> { ["order"] = order });
    }
}
