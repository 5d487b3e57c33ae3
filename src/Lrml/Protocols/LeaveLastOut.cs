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
        int nu = data.NumUsers, ni = data.NumItems;
        var train = new PairBuffer(seq.Count); var val = new PairBuffer(nu); var test = new PairBuffer(nu);
        int trainOnly = 0, noValidation = 0;
        var items = data.Item;
        for (int u = 0; u < nu; u++)
        {
            var row = seq.Row(u);
            int n = row.Length;
            if (n == 0) continue;
            if (n < 2) { trainOnly++; train.Add(u, items[row[0]]); continue; }
            test.Add(u, items[row[n - 1]]);
            int trainEnd = n - 1;
            if (options.HoldOutValidation)
            {
                if (n >= 3) { val.Add(u, items[row[n - 2]]); trainEnd = n - 2; }
                else noValidation++;
            }
            for (int j = 0; j < trainEnd; j++) train.Add(u, items[row[j]]);
        }
        var notes = new Dictionary<string, string>
        {
            ["order"] = order,
            ["duplicate_pairs_merged"] = SplitBuilding.Count(seq.DuplicatesMerged),
            ["leave-last-out.users_train_only"] = SplitBuilding.Count(trainOnly),
        };
        if (options.HoldOutValidation) notes["leave-last-out.users_without_validation"] = SplitBuilding.Count(noValidation);
        return SplitBuilding.Finish(data, ProtocolName, seed, options,
            train.ToUserItems(nu, ni), val.ToUserItems(nu, ni), test.ToUserItems(nu, ni), notes);
    }
}
