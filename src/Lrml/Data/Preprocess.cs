using System.Globalization;
using Lrml.Util;

namespace Lrml.Data;

/// <summary>Which of several interactions of the same (user, item) pair <see cref="Preprocess.Deduplicate"/> keeps.</summary>
public enum DuplicatePolicy
{
    /// <summary>The first in file order.</summary>
    First,
    /// <summary>The one with the latest timestamp (ties and data without timestamps: the last in file order).</summary>
    Latest,
}

/// <summary>
/// The outcome of one preprocessing step: the new data and what the step removed, so that dataset cards and
/// notebooks can report it. "Removed users/items" counts ids that had at least one interaction before the
/// step and none after (the index space itself only shrinks in <see cref="Preprocess.Compact"/>).
/// </summary>
/// <param name="Data">The new dataset (the input is never modified).</param>
/// <param name="Step">Human-readable description of the step and its parameters.</param>
/// <param name="RemovedInteractions">Interactions dropped.</param>
/// <param name="RemovedUsers">Users that lost all their interactions (Compact: index entries dropped).</param>
/// <param name="RemovedItems">Items that lost all their interactions (Compact: index entries dropped).</param>
/// <param name="Rounds">Filtering rounds until stable (k-core), else 1.</param>
public sealed record PreprocessResult(Interactions Data, string Step, int RemovedInteractions, int RemovedUsers, int RemovedItems, int Rounds = 1)
{
    /// <summary>One-line summary, e.g. "5-core (users ≥ 5, items ≥ 5): removed 1,234 interactions, 10 users, 40 items in 3 rounds".</summary>
    public override string ToString() =>
        $"{Step}: removed {RemovedInteractions:N0} interactions, {RemovedUsers:N0} users, {RemovedItems:N0} items" +
        (Rounds > 1 ? $" in {Rounds} rounds" : "");
}

/// <summary>
/// Pure preprocessing operations on <see cref="Interactions"/>: each returns a new dataset (the input is
/// untouched; unchanged columns may be shared) and a <see cref="PreprocessResult"/> saying what was removed.
/// Each step appends its summary to the provenance key <see cref="ProvenanceKeys.Preprocessing"/>. Row order
/// is preserved by every step.
/// </summary>
public static class Preprocess
{
    /// <summary>Implicit feedback: every interaction (minRating null) or those with rating ≥ minRating is a positive.
    /// The rating column is kept as a side label (for analyses) unless <paramref name="dropRatings"/>.</summary>
    /// <exception cref="ArgumentException">minRating is given but the data has no ratings.</exception>
    public static PreprocessResult ToImplicit(Interactions data, float? minRating = null, bool dropRatings = false)
    {
        string step = minRating is float m ? $"implicit (rating ≥ {m.ToString(CultureInfo.InvariantCulture)})" : "implicit (every interaction)";
        if (minRating is not null && data.Rating is null)
            throw new ArgumentException($"Dataset '{data.Name}' has no ratings, so a rating threshold cannot be applied.", nameof(minRating));
        bool[]? keep = null;
        if (minRating is float threshold)
        {
            keep = new bool[data.Count];
            var r = data.Rating!;
            for (int k = 0; k < keep.Length; k++) keep[k] = r[k] >= threshold;
        }
        return Filter(data, keep, step, dropRatings);
    }

    /// <summary>Keeps one interaction per (user, item) pair (see <see cref="DuplicatePolicy"/>).</summary>
    public static PreprocessResult Deduplicate(Interactions data, DuplicatePolicy keep = DuplicatePolicy.First)
    {
        int n = data.Count;
        // group rows by user (stable counting sort), then sort each user's (item, row) keys
        var offsets = new int[data.NumUsers + 1];
        foreach (int u in data.User) offsets[u + 1]++;
        for (int u = 0; u < data.NumUsers; u++) offsets[u + 1] += offsets[u];
        var fill = (int[])offsets.Clone();
        var keys = new long[n];
        for (int k = 0; k < n; k++) keys[fill[data.User[k]]++] = ((long)data.Item[k] << 32) | (uint)k;
        var mask = new bool[n];
        var ts = data.Timestamp;
        int duplicates = 0;
        for (int u = 0; u < data.NumUsers; u++)
        {
            var seg = keys.AsSpan(offsets[u], offsets[u + 1] - offsets[u]);
            seg.Sort();
            int a = 0;
            while (a < seg.Length)
            {
                int item = (int)(seg[a] >> 32);
                int b = a + 1;
                while (b < seg.Length && (int)(seg[b] >> 32) == item) b++;
                int best = (int)(uint)seg[a];
                if (keep == DuplicatePolicy.Latest)
                    for (int j = a + 1; j < b; j++)
                    {
                        int row = (int)(uint)seg[j];      // rows ascend within the group
                        if (ts is null || ts[row] >= ts[best]) best = row;
                    }
                mask[best] = true;
                duplicates += b - a - 1;
                a = b;
            }
        }
        string step = $"deduplicate (keep {(keep == DuplicatePolicy.First ? "first" : "latest")})";
        return duplicates == 0 ? Unchanged(data, step) : Filter(data, mask, step, dropRatings: false);
    }

    /// <summary>Iterative k-core: repeatedly drops users with fewer than <paramref name="userK"/> interactions and
    /// items with fewer than <paramref name="itemK"/>, until both hold for every remaining id (the unique largest
    /// such subset). Counts are interaction rows: deduplicate first to count distinct items.</summary>
    public static PreprocessResult KCore(Interactions data, int userK, int itemK)
    {
        if (userK < 0 || itemK < 0) throw new ArgumentOutOfRangeException(nameof(userK), "k must be non-negative.");
        int n = data.Count;
        var alive = new bool[n];
        Array.Fill(alive, true);
        var uc = new int[data.NumUsers];
        var ic = new int[data.NumItems];
        for (int k = 0; k < n; k++) { uc[data.User[k]]++; ic[data.Item[k]]++; }
        int rounds = 0;
        bool changed = true;
        while (changed)
        {
            changed = false;
            rounds++;
            for (int k = 0; k < n; k++)
            {
                if (!alive[k]) continue;
                int u = data.User[k], i = data.Item[k];
                if (uc[u] < userK || ic[i] < itemK)
                {
                    alive[k] = false;
                    changed = true;
                }
            }
            if (!changed) break;
            Array.Clear(uc); Array.Clear(ic);
            for (int k = 0; k < n; k++) if (alive[k]) { uc[data.User[k]]++; ic[data.Item[k]]++; }
        }
        var result = Filter(data, alive, $"{(userK == itemK ? $"{userK}-core " : "k-core ")}(users ≥ {userK}, items ≥ {itemK})", dropRatings: false);
        return result with { Rounds = rounds };
    }

    /// <summary>Renumbers users and items contiguously over those with at least one interaction, keeping their
    /// relative order (so first-appearance order survives) and their raw ids; the catalog is kept.</summary>
    public static PreprocessResult Compact(Interactions data)
    {
        var userMap = new int[data.NumUsers];
        var itemMap = new int[data.NumItems];
        foreach (int u in data.User) userMap[u] = 1;
        foreach (int i in data.Item) itemMap[i] = 1;
        var userRaw = new List<string>();
        var itemRaw = new List<string>();
        for (int u = 0; u < userMap.Length; u++) userMap[u] = userMap[u] == 1 ? Add(userRaw, data.Users[u]) : -1;
        for (int i = 0; i < itemMap.Length; i++) itemMap[i] = itemMap[i] == 1 ? Add(itemRaw, data.Items[i]) : -1;
        var user = new int[data.Count];
        var item = new int[data.Count];
        for (int k = 0; k < data.Count; k++) { user[k] = userMap[data.User[k]]; item[k] = itemMap[data.Item[k]]; }
        int ru = data.NumUsers - userRaw.Count, ri = data.NumItems - itemRaw.Count;
        const string step = "compact (contiguous indices over users/items with interactions)";
        var next = new Interactions(data.Name, user, item, data.Rating, data.Timestamp, new IdMap(userRaw), new IdMap(itemRaw),
            data.Catalog, Log(data.Provenance, $"{step}: dropped {ru:N0} user and {ri:N0} item index entries"));
        return new PreprocessResult(next, step, 0, ru, ri);
    }

    /// <summary>Keeps all interactions of a random subset of <paramref name="users"/> users that have interactions
    /// (seeded: the same seed picks the same users). Indices are unchanged; follow with <see cref="Compact"/>.</summary>
    public static PreprocessResult SampleUsers(Interactions data, int users, long seed)
    {
        var active = new List<int>();
        var has = new bool[data.NumUsers];
        foreach (int u in data.User) has[u] = true;
        for (int u = 0; u < has.Length; u++) if (has[u]) active.Add(u);
        var pick = active.ToArray();
        new Rng(seed, "preprocess/sample-users").Shuffle(pick.AsSpan());
        var chosen = new bool[data.NumUsers];
        foreach (int u in pick.AsSpan(0, Math.Min(users, pick.Length))) chosen[u] = true;
        var mask = new bool[data.Count];
        for (int k = 0; k < mask.Length; k++) mask[k] = chosen[data.User[k]];
        return Filter(data, mask, $"sample {Math.Min(users, pick.Length):N0} users (seed {seed})", dropRatings: false);
    }

    /// <summary>The first <paramref name="count"/> interactions in row order (for quick profiles and tests).</summary>
    public static PreprocessResult Head(Interactions data, int count)
    {
        var mask = new bool[data.Count];
        for (int k = 0; k < Math.Min(count, mask.Length); k++) mask[k] = true;
        return Filter(data, mask, $"head {count:N0}", dropRatings: false);
    }

    /// <summary>Keeps the rows where <paramref name="keep"/> is true (null: all rows).</summary>
    public static PreprocessResult Filter(Interactions data, bool[]? keep, string step, bool dropRatings = false)
    {
        if (keep is not null && keep.Length != data.Count) throw new ArgumentException("keep mask length differs from the data.", nameof(keep));
        int n = 0;
        if (keep is null) n = data.Count; else foreach (bool b in keep) if (b) n++;
        var user = new int[n];
        var item = new int[n];
        var rating = data.Rating is null || dropRatings ? null : new float[n];
        var time = data.Timestamp is null ? null : new long[n];
        var usersBefore = new bool[data.NumUsers];
        var itemsBefore = new bool[data.NumItems];
        var usersAfter = new bool[data.NumUsers];
        var itemsAfter = new bool[data.NumItems];
        int w = 0;
        for (int k = 0; k < data.Count; k++)
        {
            int u = data.User[k], i = data.Item[k];
            usersBefore[u] = true; itemsBefore[i] = true;
            if (keep is not null && !keep[k]) continue;
            usersAfter[u] = true; itemsAfter[i] = true;
            user[w] = u; item[w] = i;
            if (rating is not null) rating[w] = data.Rating![k];
            if (time is not null) time[w] = data.Timestamp![k];
            w++;
        }
        int ru = 0, ri = 0;
        for (int u = 0; u < usersBefore.Length; u++) if (usersBefore[u] && !usersAfter[u]) ru++;
        for (int i = 0; i < itemsBefore.Length; i++) if (itemsBefore[i] && !itemsAfter[i]) ri++;
        var result = new PreprocessResult(null!, step, data.Count - n, ru, ri);
        var next = new Interactions(data.Name, user, item, rating, time, data.Users, data.Items, data.Catalog,
            Log(data.Provenance, result.ToString()));
        return result with { Data = next };
    }

    private static PreprocessResult Unchanged(Interactions data, string step)
    {
        var r = new PreprocessResult(null!, step, 0, 0, 0);
        var next = new Interactions(data.Name, data.User, data.Item, data.Rating, data.Timestamp, data.Users, data.Items,
            data.Catalog, Log(data.Provenance, r.ToString()));
        return r with { Data = next };
    }

    private static int Add(List<string> list, string raw) { list.Add(raw); return list.Count - 1; }

    private static Dictionary<string, string> Log(IReadOnlyDictionary<string, string> provenance, string entry)
    {
        var d = new Dictionary<string, string>(provenance);
        d[ProvenanceKeys.Preprocessing] = d.TryGetValue(ProvenanceKeys.Preprocessing, out var prev) && prev.Length > 0 ? prev + "; " + entry : entry;
        return d;
    }
}
