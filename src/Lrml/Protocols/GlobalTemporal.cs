using System.Globalization;
using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>
/// One global time cut for every user. With N distinct (user, item) pairs sorted by (time, file position),
/// t1 = time of pair ⌊N·TrainFraction⌋ and t2 = time of pair ⌊N·(TrainFraction + ValidationFraction)⌋;
/// train = pairs with time &lt; t1, validation = t1 ≤ time &lt; t2, test = time ≥ t2. Pairs with equal
/// timestamps always fall on the same side of a cut, so the realised fractions can differ slightly from the
/// requested quantiles (they are recorded in the notes). Validation and test pairs whose user or item never
/// appears in train are dropped and counted (<c>global-temporal.*_dropped_cold</c>). Repeated pairs are merged
/// into their earliest occurrence first. Deterministic; <c>seed</c> only seeds the sampled candidates.
/// </summary>
internal static class GlobalTemporal
{
    /// <summary>Protocol name stored in <see cref="Split.Protocol"/>.</summary>
    public const string ProtocolName = "global-temporal";

    /// <summary>Splits 80% / 10% / 10% by time.</summary>
    public static Split Build(Interactions data, long seed) => Build(data, new GlobalTemporalOptions(), seed);

    /// <summary>Splits <paramref name="data"/> at the time quantiles of <paramref name="options"/>.</summary>
    public static Split Build(Interactions data, GlobalTemporalOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        double f1 = options.TrainFraction, fv = options.ValidationFraction;
        if (!(f1 > 0 && fv >= 0 && f1 + fv < 1 + 1e-12))
            throw new ArgumentException($"Need 0 < TrainFraction, 0 <= ValidationFraction and their sum <= 1 (got {f1}, {fv}).", nameof(options));
        var time = UserSequences.TimeColumn(data, options.FileOrderWhenNoTimestamps, ProtocolName, out string order);
        var seq = UserSequences.Build(data, time);
        int n = seq.Count, nu = data.NumUsers, ni = data.NumItems;
        var keys = new TimeKey[n];
        for (int j = 0; j < n; j++) { int k = seq.Index[j]; keys[j] = new TimeKey(time is null ? k : time[k], k); }
        Array.Sort(keys);
        long t1 = CutTime(keys, f1), t2 = fv == 0 ? t1 : CutTime(keys, f1 + fv);

        var items = data.Item; var users = data.User;
        var train = new PairBuffer(n); var valAll = new PairBuffer(n / 8); var testAll = new PairBuffer(n / 8);
        var userInTrain = new bool[nu]; var itemInTrain = new bool[ni];
        foreach (var key in keys)
        {
            int k = key.Index;
            if (key.Time < t1) { train.Add(users[k], items[k]); userInTrain[users[k]] = true; itemInTrain[items[k]] = true; }
        }
        int valCold = 0, testCold = 0, valAllCount = 0, testAllCount = 0;
        foreach (var key in keys)
        {
            if (key.Time < t1) continue;
            int k = key.Index, u = users[k], i = items[k];
            bool warm = userInTrain[u] && itemInTrain[i];
            if (key.Time < t2) { valAllCount++; if (warm) valAll.Add(u, i); else valCold++; }
            else { testAllCount++; if (warm) testAll.Add(u, i); else testCold++; }
        }
        var ci = CultureInfo.InvariantCulture;
        var notes = new Dictionary<string, string>
        {
            ["order"] = order,
            ["duplicate_pairs_merged"] = SplitBuilding.Count(seq.DuplicatesMerged),
            ["global-temporal.t1"] = t1.ToString(ci),
            ["global-temporal.t2"] = t2.ToString(ci),
            ["global-temporal.realised_fractions"] = n == 0 ? "0/0/0" : string.Create(ci,
                $"{(double)train.Count / n:F4}/{(double)valAllCount / n:F4}/{(double)testAllCount / n:F4}"),
            ["global-temporal.validation_dropped_cold"] = SplitBuilding.Count(valCold),
            ["global-temporal.test_dropped_cold"] = SplitBuilding.Count(testCold),
        };
        return SplitBuilding.Finish(data, ProtocolName, seed, options,
            train.ToUserItems(nu, ni), valAll.ToUserItems(nu, ni), testAll.ToUserItems(nu, ni), notes);
    }

    /// <summary>Time of the pair at quantile <paramref name="q"/>; past the end = no pair reaches it.</summary>
    private static long CutTime(TimeKey[] sorted, double q)
    {
        int idx = (int)Math.Floor(sorted.Length * q + 1e-9);
        return idx >= sorted.Length ? long.MaxValue : sorted[idx].Time;
    }
}
