using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Protocols;

namespace Lrml.Tests.Robustness;

/// <summary>What a reader returned, in comparable text, and the invariants any successful read must satisfy.</summary>
internal static class ReadOutcome
{
    /// <summary>Canonical text of a result (Interactions or Split) without provenance (paths and checksums differ
    /// between a file and its re-encoded copy).</summary>
    public static string Describe(object result) => result switch
    {
        Interactions d => DescribeData(d),
        Split s => DescribeSplit(s),
        _ => throw new ArgumentException($"unexpected result type {result.GetType()}"),
    };

    private static string DescribeData(Interactions d)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{d.Count} rows; users [{string.Join(",", d.Users.Raw)}]; items [{string.Join(",", d.Items.Raw)}]\n");
        for (int k = 0; k < d.Count; k++)
        {
            sb.Append(d.User[k]).Append(' ').Append(d.Item[k]);
            if (d.Rating is not null) sb.Append(' ').Append(d.Rating[k].ToString("R", CultureInfo.InvariantCulture));
            if (d.Timestamp is not null) sb.Append(' ').Append(d.Timestamp[k]);
            sb.Append('\n');
        }
        if (d.Catalog is not null)
        {
            sb.Append("genres ").Append(string.Join("|", d.Catalog.GenreNames)).Append('\n');
            foreach (var i in d.Catalog.All.OrderBy(i => i.RawId, StringComparer.Ordinal))
                sb.Append(CultureInfo.InvariantCulture, $"{i.RawId}\t{i.Title}\t{string.Join("|", i.Genres)}\t{i.Year}\n");
        }
        return sb.ToString();
    }

    private static string DescribeSplit(Split s)
    {
        static string Pairs(UserItems? u)
        {
            if (u is null) return "none";
            var (us, its) = u.ToPairs();
            return string.Join(" ", us.Zip(its, (a, b) => $"{a}:{b}"));
        }
        return $"train {Pairs(s.Train)}\nvalidation {Pairs(s.Validation)}\ntest {Pairs(s.Test)}\nnegatives {Pairs(s.TestNegatives)}\n" +
               string.Join("\n", s.Notes.Where(kv => !kv.Key.EndsWith(".sha256", StringComparison.Ordinal))   // checksums of the files read
                   .OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
    }

    /// <summary>Number of distinct (user, item) pairs of an Interactions result.</summary>
    public static int DistinctPairs(Interactions d) => d.User.Zip(d.Item).Distinct().Count();

    /// <summary>Asserts what every successful read must give: parallel arrays of equal length, indices inside the id
    /// maps, every index used, distinct non-empty raw ids, finite non-negative ratings; for splits, CSR rows sorted,
    /// ids in range, and no test pair in train.</summary>
    public static void CheckInvariants(object result)
    {
        switch (result)
        {
            case Interactions d:
                Assert.Equal(d.User.Length, d.Item.Length);
                if (d.Rating is not null) Assert.Equal(d.User.Length, d.Rating.Length);
                if (d.Timestamp is not null) Assert.Equal(d.User.Length, d.Timestamp.Length);
                Assert.True(d.Count > 0, "a successful read has at least one interaction");
                var usedU = new bool[d.NumUsers];
                var usedI = new bool[d.NumItems];
                for (int k = 0; k < d.Count; k++)
                {
                    Assert.InRange(d.User[k], 0, d.NumUsers - 1);
                    Assert.InRange(d.Item[k], 0, d.NumItems - 1);
                    usedU[d.User[k]] = true; usedI[d.Item[k]] = true;
                    if (d.Rating is not null) Assert.True(float.IsFinite(d.Rating[k]) && d.Rating[k] >= 0, $"rating {d.Rating[k]} at row {k}");
                }
                Assert.All(usedU, Assert.True);
                Assert.All(usedI, Assert.True);
                Assert.Equal(d.NumUsers, d.Users.Raw.Distinct(StringComparer.Ordinal).Count());
                Assert.Equal(d.NumItems, d.Items.Raw.Distinct(StringComparer.Ordinal).Count());
                Assert.All(d.Users.Raw, r => Assert.False(string.IsNullOrWhiteSpace(r)));
                Assert.All(d.Items.Raw, r => Assert.False(string.IsNullOrWhiteSpace(r)));
                if (d.Catalog is not null) Assert.All(d.Catalog.All, i => { Assert.NotNull(i.Title); Assert.NotNull(i.Genres); });
                break;
            case Split s:
                foreach (var u in new[] { s.Train, s.Validation, s.Test, s.TestNegatives })
                {
                    if (u is null) continue;
                    Assert.Equal(s.NumUsers, u.NumUsers);
                    Assert.Equal(s.NumItems, u.NumItems);
                    Assert.Equal(u.NumUsers + 1, u.Offsets.Length);
                    for (int x = 0; x < u.NumUsers; x++)
                    {
                        var row = u[x];
                        for (int j = 0; j < row.Length; j++)
                        {
                            Assert.InRange(row[j], 0, u.NumItems - 1);
                            if (j > 0) Assert.True(row[j - 1] < row[j], "rows are sorted without duplicates");
                        }
                    }
                }
                Assert.False(s.Train.Overlaps(s.Test), "a test pair is also a training pair");
                break;
            default:
                throw new ArgumentException($"unexpected result type {result.GetType()}");
        }
    }
}
