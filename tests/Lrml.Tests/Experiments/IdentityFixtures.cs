using System.Globalization;
using System.Text;
using Lrml.Protocols;

namespace Lrml.Tests.Experiments;

/// <summary>Small real data folders in the formats the kit reads, for the run-identity tests: an ML-100K-format
/// <c>u.data</c> and an ML-1M folder (<c>ratings.dat</c>) with the public NCF files (<c>ncf/ml-1m.test.rating</c>,
/// <c>ncf/ml-1m.test.negative</c>, 99 negatives per line).</summary>
internal static class IdentityFixtures
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>Writes <paramref name="root"/>/ml-100k/u.data: <paramref name="users"/> users with 12 distinct items each
    /// out of 60, ratings 1–5 and increasing timestamps (reversed per user with <paramref name="reverseTime"/>: same users,
    /// items and number of rows, other held-out items). Keeps only the first <paramref name="keepRows"/> rows when given.
    /// Returns the data root.</summary>
    public static string WriteMl100k(string root, int users = 30, int? keepRows = null, bool reverseTime = false)
    {
        const int perUser = 12;
        var sb = new StringBuilder();
        int rows = 0;
        for (int u = 1; u <= users; u++)
            for (int k = 0; k < perUser; k++)
            {
                if (keepRows is int keep && rows >= keep) break;
                int item = (u * 7 + k * 13) % 60 + 1;                       // 13 is coprime with 60: distinct per user
                long time = 880_000_000L + u * 1000 + (reverseTime ? perUser - k : k);
                sb.Append(Ci, $"{u}\t{item}\t{1 + (u + k) % 5}\t{time}\n");
                rows++;
            }
        string dir = Path.Combine(root, "ml-100k");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "u.data"), sb.ToString());
        return root;
    }

    /// <summary>Copies a data root's ml-100k folder to a new root (byte-identical files). Returns the new root.</summary>
    public static string CopyMl100k(string fromRoot, string toRoot)
    {
        Directory.CreateDirectory(Path.Combine(toRoot, "ml-100k"));
        File.Copy(Path.Combine(fromRoot, "ml-100k", "u.data"), Path.Combine(toRoot, "ml-100k", "u.data"));
        return toRoot;
    }

    /// <summary>Number of users in the fake ML-1M folder.</summary>
    public const int Ml1mUsers = 30;

    /// <summary>
    /// Writes <paramref name="root"/>/ml-1m/ratings.dat (UserIDs 1..30, 14 ratings each over 120 movies, in time order) and
    /// ncf/ml-1m.test.rating (each user's latest rating, NCF indices: user − 1, item = order of first appearance in the
    /// file) and ncf/ml-1m.test.negative (99 items the user never rated). Returns the data root.
    /// </summary>
    public static string WriteMl1mWithNcf(string root)
    {
        const int perUser = 14, movies = 120;
        var ratings = new StringBuilder();
        var ncfItem = new Dictionary<int, int>();
        var userItems = new List<int>[Ml1mUsers];
        var last = new (int Item, int Rating, long Time)[Ml1mUsers];
        for (int u = 1; u <= Ml1mUsers; u++)
        {
            userItems[u - 1] = new List<int>();
            for (int k = 0; k < perUser; k++)
            {
                int movie = (u * 17 + k * 7) % movies + 1;                 // 7 is coprime with 120: distinct per user
                long time = 978_300_000L + u * 100 + k;
                int rating = 1 + (u * 3 + k) % 5;
                ratings.Append(Ci, $"{u}::{movie}::{rating}::{time}\n");
                if (!ncfItem.ContainsKey(movie)) ncfItem[movie] = ncfItem.Count;
                userItems[u - 1].Add(ncfItem[movie]);
                last[u - 1] = (ncfItem[movie], rating, time);
            }
        }
        int numItems = ncfItem.Count;
        var test = new StringBuilder();
        var negatives = new StringBuilder();
        for (int u = 0; u < Ml1mUsers; u++)
        {
            test.Append(Ci, $"{u}\t{last[u].Item}\t{last[u].Rating}\t{last[u].Time}\n");
            var negs = Enumerable.Range(0, numItems).Where(i => !userItems[u].Contains(i)).Take(99).ToList();
            if (negs.Count < 99) throw new InvalidOperationException($"fixture: user {u} has only {negs.Count} non-interacted items");
            negatives.Append(Ci, $"({u},{last[u].Item})\t{string.Join("\t", negs)}\n");
        }
        string dir = Path.Combine(root, "ml-1m");
        Directory.CreateDirectory(Path.Combine(dir, "ncf"));
        File.WriteAllText(Path.Combine(dir, "ratings.dat"), ratings.ToString());
        File.WriteAllText(Path.Combine(dir, "ncf", NcfPublic.TestRatingFile), test.ToString());
        File.WriteAllText(Path.Combine(dir, "ncf", NcfPublic.TestNegativeFile), negatives.ToString());
        return root;
    }

    /// <summary>Removes the last <paramref name="count"/> lines of a file.</summary>
    public static void DropLastLines(string path, int count)
    {
        var lines = File.ReadAllLines(path);
        File.WriteAllLines(path, lines[..^count]);
    }
}
