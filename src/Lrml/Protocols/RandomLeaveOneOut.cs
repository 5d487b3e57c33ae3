using Lrml.Data;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Leave-one-out without time: per user, one uniformly random distinct item is the test item and, when
/// validation is held out, a second one (drawn from the remaining items) the validation item. Seeded through
/// the stream <c>"split/random-leave-one-out"</c>; users are visited in index order, so a seed fixes the split.
/// Repeated (user, item) pairs are merged first. Users with fewer than 2 distinct items stay in train only,
/// users with exactly 2 get no validation item (both counted in <see cref="Split.Notes"/>).
/// </summary>
public static class RandomLeaveOneOut
{
    /// <summary>Protocol name stored in <see cref="Split.Protocol"/>.</summary>
    public const string ProtocolName = "random-leave-one-out";

    /// <summary>Splits with default options.</summary>
    public static Split Build(Interactions data, long seed) => Build(data, new RandomLeaveOneOutOptions(), seed);

    /// <summary>Splits <paramref name="data"/>; <paramref name="seed"/> seeds the held-out choice and the candidates.</summary>
    public static Split Build(Interactions data, RandomLeaveOneOutOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var seq = UserSequences.Build(data, time: null);
        var rng = new Rng(seed, "split/" + ProtocolName);
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
            int t = rng.NextInt(n);
            int v = -1;
            if (options.HoldOutValidation)
            {
                if (n >= 3) { v = rng.NextInt(n - 1); if (v >= t) v++; } // uniform over the other n - 1 positions
                else noValidation++;
            }
            for (int j = 0; j < n; j++)
            {
                if (j == t) test.Add(u, items[row[j]]);
                else if (j == v) val.Add(u, items[row[j]]);
                else train.Add(u, items[row[j]]);
            }
        }
        var notes = new Dictionary<string, string>
        {
            ["duplicate_pairs_merged"] = SplitBuilding.Count(seq.DuplicatesMerged),
            ["random-leave-one-out.users_train_only"] = SplitBuilding.Count(trainOnly),
        };
        if (options.HoldOutValidation) notes["random-leave-one-out.users_without_validation"] = SplitBuilding.Count(noValidation);
        return SplitBuilding.Finish(data, ProtocolName, seed, options,
            train.ToUserItems(nu, ni), val.ToUserItems(nu, ni), test.ToUserItems(nu, ni), notes);
    }
}
