using Lrml.Data;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Random split by ratio (e.g. 0.8 / 0.1 / 0.1), seeded through the stream <c>"split/ratio"</c>.
/// <list type="bullet">
/// <item>Per user (default): each user's distinct items are shuffled; the first round(n·test) go to test, the next
/// round(n·validation) to validation, the rest to train (round half up). A user always keeps at least one training
/// item: when the held-out counts would leave none, validation is reduced first, then test. Users with a single
/// item stay in train only.</item>
/// <item>Global (<see cref="RatioSplitOptions.Global"/>): all distinct pairs are shuffled at once and cut at
/// round(N·test) and round(N·validation); a user or item may then be absent from train
/// (counted in the notes <c>ratio.cold_*</c>, not dropped).</item>
/// </list>
/// Repeated (user, item) pairs are merged first.
/// </summary>
internal static class RatioSplit
{
    /// <summary>Protocol name stored in <see cref="Split.Protocol"/>.</summary>
    public const string ProtocolName = "ratio";

    /// <summary>Splits 0.8 / 0.1 / 0.1 per user.</summary>
    public static Split Build(Interactions data, long seed) => Build(data, new RatioSplitOptions(), seed);

    /// <summary>Splits <paramref name="data"/> by the ratios of <paramref name="options"/>.</summary>
    public static Split Build(Interactions data, RatioSplitOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        double tr = options.TrainRatio, va = options.ValidationRatio, te = options.TestRatio;
        if (!(tr >= 0 && va >= 0 && te >= 0) || Math.Abs(tr + va + te - 1.0) > 1e-9)
            throw new ArgumentException($"Ratios must be non-negative and sum to 1 (got {tr} / {va} / {te}).", nameof(options));
        var seq = UserSequences.Build(data, time: null);
        var rng = new Rng(seed, "split/" + ProtocolName);
        int nu = data.NumUsers, ni = data.NumItems;
        var train = new PairBuffer(seq.Count); var val = new PairBuffer(seq.Count / 8); var test = new PairBuffer(seq.Count / 8);
        var items = data.Item;
        var notes = new Dictionary<string, string>
        {
            ["duplicate_pairs_merged"] = SplitBuilding.Count(seq.DuplicatesMerged),
            ["ratio.mode"] = options.Global ? "global" : "per-user",
            ["ratio.ratios"] = FormattableString.Invariant($"{tr}/{va}/{te}"),
        };
        if (!options.Global)
        {
            int[] buf = new int[16];
            int usersWithoutTest = 0;
            for (int u = 0; u < nu; u++)
            {
                var row = seq.Row(u);
                int n = row.Length;
                if (n == 0) continue;
                if (buf.Length < n) buf = new int[Math.Max(n, buf.Length * 2)];
                var perm = buf.AsSpan(0, n);
                row.CopyTo(perm);
                rng.Shuffle(perm);
                int nTest = RoundHalfUp(n * te), nVal = RoundHalfUp(n * va);
                while (nTest + nVal > n - 1)
                {
                    if (nVal > 0) nVal--; else nTest--;
                }
                if (nTest == 0) usersWithoutTest++;
                for (int j = 0; j < n; j++)
                {
                    int it = items[perm[j]];
                    if (j < nTest) test.Add(u, it);
                    else if (j < nTest + nVal) val.Add(u, it);
                    else train.Add(u, it);
                }
            }
            notes["ratio.users_without_test"] = SplitBuilding.Count(usersWithoutTest);
        }
        else
        {
            var all = (int[])seq.Index.Clone();
            rng.Shuffle(all.AsSpan());
            int n = all.Length;
            int nTest = Math.Min(n, RoundHalfUp(n * te));
            int nVal = Math.Min(n - nTest, RoundHalfUp(n * va));
            var users = data.User;
            for (int j = 0; j < n; j++)
            {
                int k = all[j];
                if (j < nTest) test.Add(users[k], items[k]);
                else if (j < nTest + nVal) val.Add(users[k], items[k]);
                else train.Add(users[k], items[k]);
            }
        }
        var trainSet = train.ToUserItems(nu, ni); var valSet = val.ToUserItems(nu, ni); var testSet = test.ToUserItems(nu, ni);
        if (options.Global)
        {
            var (coldUsers, coldItems) = ColdPairs(trainSet, testSet);
            notes["ratio.cold_test_pairs_user_not_in_train"] = SplitBuilding.Count(coldUsers);
            notes["ratio.cold_test_pairs_item_not_in_train"] = SplitBuilding.Count(coldItems);
            (coldUsers, coldItems) = ColdPairs(trainSet, valSet);
            notes["ratio.cold_validation_pairs_user_not_in_train"] = SplitBuilding.Count(coldUsers);
            notes["ratio.cold_validation_pairs_item_not_in_train"] = SplitBuilding.Count(coldItems);
        }
        return SplitBuilding.Finish(data, ProtocolName, seed, options, trainSet, valSet, testSet, notes);
    }

    internal static int RoundHalfUp(double x) => (int)Math.Floor(x + 0.5);

    /// <summary>Held-out pairs whose user (resp. item) has no training interaction.</summary>
    internal static (int ColdUsers, int ColdItems) ColdPairs(UserItems train, UserItems heldOut)
    {
        var itemInTrain = new bool[train.NumItems];
        foreach (int i in train.Items) itemInTrain[i] = true;
        int cu = 0, ci = 0;
        for (int u = 0; u < heldOut.NumUsers; u++)
        {
            var row = heldOut[u];
            if (row.Length == 0) continue;
            if (train.CountOf(u) == 0) cu += row.Length;
            foreach (int i in row) if (!itemInTrain[i]) ci++;
        }
        return (cu, ci);
    }
}
