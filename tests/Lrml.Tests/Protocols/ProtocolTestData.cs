using System.Globalization;
using Lrml.Data;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Tests.Protocols;

/// <summary>
/// Test-only helpers for the protocol and evaluation tests: toy interaction sets built by hand or seeded, the data
/// root, and two tiny readers (<see cref="ReadMl1mImplicit"/>, <see cref="ReadMl100k"/>) that exist ONLY so these tests
/// can run on real data before the kit's own readers (src/Lrml/Data, another branch) are merged. They are internal to
/// the tests and are not the kit's readers.
/// </summary>
internal static class ProtocolTestData
{
    /// <summary>Data root: $LRML_DATA_DIR, else ./data under the repository root.</summary>
    public static string DataRoot()
    {
        string? env = Environment.GetEnvironmentVariable("LRML_DATA_DIR");
        if (!string.IsNullOrWhiteSpace(env)) return env;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Lrml.Research.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? Directory.GetCurrentDirectory(), "data");
    }

    /// <summary>Builds interactions from raw (user, item[, timestamp]) rows; indices by first appearance.</summary>
    public static Interactions Build(string name, IReadOnlyList<(string User, string Item)> rows, long[]? timestamps = null)
    {
        var users = new IdMap(); var items = new IdMap();
        var u = new int[rows.Count]; var i = new int[rows.Count];
        for (int k = 0; k < rows.Count; k++) { u[k] = users.GetOrAdd(rows[k].User); i[k] = items.GetOrAdd(rows[k].Item); }
        return new Interactions(name, u, i, null, timestamps, users, items);
    }

    /// <summary>Builds interactions from index arrays (raw ids "u0".., "i0"..).</summary>
    public static Interactions FromIndices(string name, int numUsers, int numItems, int[] users, int[] items, long[]? timestamps)
    {
        var um = new IdMap(Enumerable.Range(0, numUsers).Select(x => "u" + x));
        var im = new IdMap(Enumerable.Range(0, numItems).Select(x => "i" + x));
        return new Interactions(name, users, items, null, timestamps, um, im);
    }

    /// <summary>
    /// Seeded random interactions: user u has between 0 and maxPerUser interactions (some users with 0, 1, 2 to
    /// exercise the small-user rules), timestamps drawn from a small range so that ties are frequent, and a few
    /// repeated (user, item) pairs.
    /// </summary>
    public static Interactions Random(int numUsers, int numItems, int maxPerUser, long seed, bool withTimestamps = true)
    {
        var rng = new Rng(seed, "test-data");
        var us = new List<int>(); var its = new List<int>(); var ts = new List<long>();
        for (int u = 0; u < numUsers; u++)
        {
            int n = u % 7 == 0 ? u % 3 : 1 + rng.NextInt(maxPerUser); // users 0, 7, 14, … get 0, 1 or 2
            for (int k = 0; k < n; k++)
            {
                us.Add(u); its.Add(rng.NextInt(numItems)); ts.Add(1000 + rng.NextInt(40));
            }
        }
        // shuffle the file order so rows are not grouped by user
        var order = Enumerable.Range(0, us.Count).ToArray();
        rng.Shuffle(order.AsSpan());
        return FromIndices("toy", numUsers, numItems, order.Select(k => us[k]).ToArray(), order.Select(k => its[k]).ToArray(),
            withTimestamps ? order.Select(k => ts[k]).ToArray() : null);
    }

    /// <summary>Earliest timestamp of each distinct (user, item) pair (the time the splitters use for a pair).</summary>
    public static Dictionary<(int, int), long> PairTimes(Interactions data)
    {
        var d = new Dictionary<(int, int), long>();
        for (int k = 0; k < data.Count; k++)
        {
            long t = data.Timestamp![k];
            var key = (data.User[k], data.Item[k]);
            if (!d.TryGetValue(key, out long old) || t < old) d[key] = t;
        }
        return d;
    }

    /// <summary>Distinct (user, item) pairs of the data.</summary>
    public static HashSet<(int, int)> DistinctPairs(Interactions data)
    {
        var s = new HashSet<(int, int)>();
        for (int k = 0; k < data.Count; k++) s.Add((data.User[k], data.Item[k]));
        return s;
    }

    public static IEnumerable<(int User, int Item)> Pairs(UserItems set)
    {
        for (int u = 0; u < set.NumUsers; u++)
            for (int k = set.Offsets[u]; k < set.Offsets[u + 1]; k++) yield return (u, set.Items[k]);
    }

    /// <summary>TEST-ONLY reader of ml-1m/ratings_implicit.dat (<c>UserID::MovieID</c>), file order, indices by
    /// first appearance. Not the kit's MovieLens reader.</summary>
    public static Interactions ReadMl1mImplicit(string path)
    {
        var users = new IdMap(); var items = new IdMap();
        var u = new List<int>(1_000_300); var i = new List<int>(1_000_300);
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            int sep = line.IndexOf("::", StringComparison.Ordinal);
            u.Add(users.GetOrAdd(line[..sep]));
            i.Add(items.GetOrAdd(line[(sep + 2)..]));
        }
        return new Interactions("ml-1m", u.ToArray(), i.ToArray(), null, null, users, items);
    }

    /// <summary>TEST-ONLY reader of ml-100k/u.data (<c>user \t item \t rating \t timestamp</c>). Not the kit's reader.</summary>
    public static Interactions ReadMl100k(string path)
    {
        var users = new IdMap(); var items = new IdMap();
        var u = new List<int>(); var i = new List<int>(); var t = new List<long>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            var f = line.Split('\t');
            u.Add(users.GetOrAdd(f[0])); i.Add(items.GetOrAdd(f[1])); t.Add(long.Parse(f[3], CultureInfo.InvariantCulture));
        }
        return new Interactions("ml-100k", u.ToArray(), i.ToArray(), null, t.ToArray(), users, items);
    }

    /// <summary>Asserts the invariants every split must satisfy: parts pairwise disjoint, every held-out pair an
    /// interaction of the data, and (unless <paramref name="mayDrop"/>) every distinct pair in exactly one part.</summary>
    public static void AssertPartition(Interactions data, Split split, bool mayDrop = false)
    {
        Assert.False(split.Train.Overlaps(split.Validation), "train ∩ validation ≠ ∅");
        Assert.False(split.Train.Overlaps(split.Test), "train ∩ test ≠ ∅");
        Assert.False(split.Validation.Overlaps(split.Test), "validation ∩ test ≠ ∅");
        var distinct = DistinctPairs(data);
        var seen = new HashSet<(int, int)>();
        foreach (var part in new[] { split.Train, split.Validation, split.Test })
            foreach (var p in Pairs(part))
            {
                Assert.Contains(p, distinct);
                Assert.True(seen.Add(p), $"pair {p} in two parts");
            }
        if (!mayDrop) Assert.Equal(distinct.Count, seen.Count);
    }

    /// <summary>Asserts frozen negatives avoid every interacted item of the user and exist for held-out users.</summary>
    public static void AssertNegativesClean(Split split, UserItems negatives, UserItems heldOut, int k)
    {
        for (int u = 0; u < split.NumUsers; u++)
        {
            var row = negatives[u];
            if (heldOut.CountOf(u) == 0) { Assert.Equal(0, row.Length); continue; }
            int available = split.NumItems - split.Train.CountOf(u) - split.Validation.CountOf(u) - split.Test.CountOf(u);
            Assert.Equal(Math.Min(k, available), row.Length);
            foreach (int i in row)
            {
                Assert.False(split.Train.Contains(u, i));
                Assert.False(split.Validation.Contains(u, i));
                Assert.False(split.Test.Contains(u, i));
            }
        }
    }
}
