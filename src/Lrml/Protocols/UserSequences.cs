using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>
/// Interactions grouped by user, each user's row in a fixed order (chronological: timestamp ascending, ties by
/// file order; or plain file order), with repeated (user, item) pairs merged so every pair appears once — at its
/// first position in that order (i.e. its earliest occurrence). Working on distinct pairs is what makes the
/// splits leak-free: a pair can never be in train and in test at once.
/// </summary>
internal sealed class UserSequences
{
    public int NumUsers { get; }
    public int NumItems { get; }

    /// <summary>Row offsets into <see cref="Index"/>, length NumUsers + 1.</summary>
    public int[] Offsets { get; }

    /// <summary>Interaction indices (positions in the source arrays), grouped by user, in row order.</summary>
    public int[] Index { get; }

    /// <summary>Number of repeated (user, item) occurrences that were merged away.</summary>
    public int DuplicatesMerged { get; }

    private UserSequences(int numUsers, int numItems, int[] offsets, int[] index, int duplicates)
    {
        NumUsers = numUsers; NumItems = numItems; Offsets = offsets; Index = index; DuplicatesMerged = duplicates;
    }

    public ReadOnlySpan<int> Row(int user) => Index.AsSpan(Offsets[user], Offsets[user + 1] - Offsets[user]);

    public int Count => Index.Length;

    /// <summary>Groups <paramref name="data"/> by user; sorts each row by <paramref name="time"/> (ties by file
    /// order) when given, else keeps file order; then merges repeated pairs.</summary>
    public static UserSequences Build(Interactions data, long[]? time)
    {
        int nu = data.NumUsers, ni = data.NumItems, n = data.Count;
        var users = data.User; var items = data.Item;
        var counts = new int[nu + 1];
        for (int k = 0; k < n; k++)
        {
            int u = users[k], i = items[k];
            if ((uint)u >= (uint)nu) throw new ArgumentException($"{data.Name}: interaction {k} has user index {u} outside [0, {nu}).");
            if ((uint)i >= (uint)ni) throw new ArgumentException($"{data.Name}: interaction {k} has item index {i} outside [0, {ni}).");
            counts[u + 1]++;
        }
        for (int u = 0; u < nu; u++) counts[u + 1] += counts[u];
        var fill = (int[])counts.Clone();
        var index = new int[n];
        for (int k = 0; k < n; k++) index[fill[users[k]]++] = k; // stable: file order within a user

        TimeKey[]? keys = null;
        var seen = new int[ni]; // seen[item] == u + 1 when user u already has item in its row
        var offsets = new int[nu + 1];
        int w = 0, dup = 0;
        for (int u = 0; u < nu; u++)
        {
            int start = counts[u], len = counts[u + 1] - counts[u];
            var row = index.AsSpan(start, len);
            if (time is not null && !IsChronological(row, time))
            {
                if (keys is null || keys.Length < len) keys = new TimeKey[Math.Max(len, 64)];
                var ks = keys.AsSpan(0, len);
                for (int j = 0; j < len; j++) ks[j] = new TimeKey(time[row[j]], row[j]);
                ks.Sort();
                for (int j = 0; j < len; j++) row[j] = ks[j].Index;
            }
            offsets[u] = w;
            int mark = u + 1;
            for (int j = 0; j < len; j++)
            {
                int k = row[j], it = items[k];
                if (seen[it] == mark) { dup++; continue; }
                seen[it] = mark;
                index[w++] = k; // w <= start + j, so this never overwrites an unread entry
            }
        }
        offsets[nu] = w;
        return new UserSequences(nu, ni, offsets, w == n ? index : index[..w], dup);
    }

    private static bool IsChronological(ReadOnlySpan<int> row, long[] time)
    {
        for (int j = 1; j < row.Length; j++)
            if (time[row[j]] < time[row[j - 1]]) return false; // file order is the tie-break, so equal is fine
        return true;
    }

    /// <summary>The time column to order by: timestamps, or null for file order when allowed.</summary>
    public static long[]? TimeColumn(Interactions data, bool fileOrderWhenNoTimestamps, string protocol, out string orderNote)
    {
        if (data.Timestamp is not null) { orderNote = "timestamp ascending; equal timestamps ordered by file line"; return data.Timestamp; }
        if (!fileOrderWhenNoTimestamps)
            throw new ArgumentException($"{protocol} needs timestamps, and dataset '{data.Name}' has none. " +
                "Use RandomLeaveOneOut / RatioSplit, or set FileOrderWhenNoTimestamps to treat file order as time.");
        orderNote = "file order (the dataset has no timestamps)";
        return null;
    }
}

/// <summary>Sort key (time, file position): chronological with file order as the tie-break.</summary>
internal readonly record struct TimeKey(long Time, int Index) : IComparable<TimeKey>
{
    public int CompareTo(TimeKey other)
    {
        int c = Time.CompareTo(other.Time);
        return c != 0 ? c : Index.CompareTo(other.Index);
    }
}

/// <summary>Accumulates (user, item) pairs per part while a splitter walks its users.</summary>
internal sealed class PairBuffer
{
    private int[] _users, _items;
    public int Count { get; private set; }

    public PairBuffer(int capacity) { _users = new int[Math.Max(capacity, 4)]; _items = new int[Math.Max(capacity, 4)]; }

    public void Add(int user, int item)
    {
        if (Count == _users.Length)
        {
            Array.Resize(ref _users, _users.Length * 2);
            Array.Resize(ref _items, _items.Length * 2);
        }
        _users[Count] = user; _items[Count] = item; Count++;
    }

    public UserItems ToUserItems(int numUsers, int numItems) =>
        UserItems.FromPairs(numUsers, numItems, _users.AsSpan(0, Count), _items.AsSpan(0, Count));
}

/// <summary>Helpers shared by the splitters.</summary>
internal static class SplitBuilding
{
    public static IdMap CopyIds(IdMap ids) => new(ids.Raw);

    /// <summary>Builds the split and, when asked, attaches frozen sampled negatives for validation and test.</summary>
    public static Split Finish(Interactions data, string protocol, long seed, SplitOptions options,
        UserItems train, UserItems validation, UserItems test, Dictionary<string, string> notes)
    {
        if (options.SampledNegatives < 0) throw new ArgumentOutOfRangeException(nameof(options), "SampledNegatives must be >= 0.");
        var split = new Split
        {
            Dataset = data.Name, Protocol = protocol, Seed = seed,
            Train = train, Validation = validation, Test = test,
            UserIds = CopyIds(data.Users), ItemIds = CopyIds(data.Items), Notes = notes,
        };
        return options.SampledNegatives > 0 ? CandidateSampler.WithSampledCandidates(split, options.SampledNegatives, seed) : split;
    }

    public static string Count(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Picks the positions (within a user's row of <c>n</c> ≥ 2 distinct items) of the test item and of the
    /// validation item (−1 when <c>withValidation</c> is false); the two must differ.</summary>
    public delegate (int Test, int Validation) HoldOutPicker(int n, bool withValidation);

    /// <summary>
    /// The per-user leave-one-out walk shared by <see cref="LeaveLastOut"/> and <see cref="RandomLeaveOneOut"/>: users
    /// are visited in index order; a user with fewer than 2 distinct items stays in train only (counted as
    /// <c>&lt;protocol&gt;.users_train_only</c>); otherwise <paramref name="pick"/> chooses the held-out positions, with a
    /// validation item only when <paramref name="holdOutValidation"/> and the user has at least 3 items (users with
    /// exactly 2 are counted as <c>&lt;protocol&gt;.users_without_validation</c>); every other item is training.
    /// The notes are appended to <paramref name="notes"/> after the caller's own entries.
    /// </summary>
    public static Split LeaveOneOutPerUser(Interactions data, UserSequences seq, string protocol, long seed, SplitOptions options,
        bool holdOutValidation, HoldOutPicker pick, Dictionary<string, string> notes)
    {
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
            bool withValidation = holdOutValidation && n >= 3;
            if (holdOutValidation && !withValidation) noValidation++;
            var (t, v) = pick(n, withValidation);
            for (int j = 0; j < n; j++)
            {
                if (j == t) test.Add(u, items[row[j]]);
                else if (j == v) val.Add(u, items[row[j]]);
                else train.Add(u, items[row[j]]);
            }
        }
        notes["duplicate_pairs_merged"] = Count(seq.DuplicatesMerged);
        notes[protocol + ".users_train_only"] = Count(trainOnly);
        if (holdOutValidation) notes[protocol + ".users_without_validation"] = Count(noValidation);
        return Finish(data, protocol, seed, options, train.ToUserItems(nu, ni), val.ToUserItems(nu, ni), test.ToUserItems(nu, ni), notes);
    }
}
