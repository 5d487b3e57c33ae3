namespace Lrml.Protocols;

/// <summary>
/// A compressed sparse row (CSR) set of items per user: <c>Offsets[u]..Offsets[u+1]</c> delimit user u's
/// items in <see cref="Items"/>, sorted ascending and without duplicates (membership: <see cref="RowContains"/>).
/// Used for training positives, held-out validation/test items and frozen candidate negatives.
/// </summary>
public sealed class UserItems
{
    /// <summary>Number of users (rows).</summary>
    public int NumUsers { get; }

    /// <summary>Size of the item index space.</summary>
    public int NumItems { get; }

    /// <summary>Row offsets, length NumUsers + 1.</summary>
    public int[] Offsets { get; }

    /// <summary>Item indices, grouped by user, ascending within a user.</summary>
    public int[] Items { get; }

    public UserItems(int numUsers, int numItems, int[] offsets, int[] items)
    {
        if (offsets.Length != numUsers + 1) throw new ArgumentException("offsets must have NumUsers + 1 entries.");
        if (offsets[0] != 0 || offsets[^1] != items.Length) throw new ArgumentException("offsets do not span items.");
        NumUsers = numUsers; NumItems = numItems; Offsets = offsets; Items = items;
    }

    /// <summary>Total number of (user, item) entries.</summary>
    public int Count => Items.Length;

    /// <summary>Items of one user, ascending.</summary>
    public ReadOnlySpan<int> this[int user] => Items.AsSpan(Offsets[user], Offsets[user + 1] - Offsets[user]);

    /// <summary>Number of items of one user.</summary>
    public int CountOf(int user) => Offsets[user + 1] - Offsets[user];

    /// <summary>Whether user has item (<see cref="RowContains"/>).</summary>
    public bool Contains(int user, int item) => RowContains(this[user], item);

    /// <summary>Rows of at most this many items are scanned instead of binary-searched (the negative sampler
    /// prefetches such rows whole).</summary>
    internal const int ScanMaxRow = 256;

    /// <summary>
    /// Whether the sorted <paramref name="row"/> holds <paramref name="item"/>: a row of at most <see cref="ScanMaxRow"/>
    /// items by the library's vectorised scan (<c>MemoryExtensions.Contains</c>: 16, 8 or 4 items a compare), longer rows
    /// by a binary search. A binary search mispredicts about one branch in two; the scan's branches are predictable. On
    /// the AMD EPYC of 12-04 (one thread, 4,000 rows of random items out of 26,744, every 20th candidate a member, warm
    /// code) a binary search cost 18 – 44 ns a test for rows of 8 – 256 items and the scan 3 – 16 ns (a hand-written
    /// 512-bit loop was 10 – 30 % faster still on rows of 16 or more: not worth a second copy of the library's code). The
    /// short rows tested most are the negative sampler's users without a bitmap: most of CML+WARP's own draws (20 a
    /// positive, one stream) on the ML-20M shape. The answer is the same either way.
    /// </summary>
    internal static bool RowContains(ReadOnlySpan<int> row, int item) =>
        row.Length <= ScanMaxRow ? row.Contains(item) : row.BinarySearch(item) >= 0;

    /// <summary>Builds the CSR from parallel (user, item) arrays; duplicate pairs are merged.</summary>
    public static UserItems FromPairs(int numUsers, int numItems, ReadOnlySpan<int> users, ReadOnlySpan<int> items)
    {
        if (users.Length != items.Length) throw new ArgumentException("users and items differ in length.");
        var counts = new int[numUsers + 1];
        for (int k = 0; k < users.Length; k++)
        {
            int u = users[k], i = items[k];
            if ((uint)u >= (uint)numUsers) throw new ArgumentOutOfRangeException(nameof(users), $"user index {u} outside [0, {numUsers}).");
            if ((uint)i >= (uint)numItems) throw new ArgumentOutOfRangeException(nameof(items), $"item index {i} outside [0, {numItems}).");
            counts[u + 1]++;
        }
        for (int u = 0; u < numUsers; u++) counts[u + 1] += counts[u];
        var fill = (int[])counts.Clone();
        var buf = new int[users.Length];
        for (int k = 0; k < users.Length; k++) buf[fill[users[k]]++] = items[k];
        // sort and de-duplicate each row, compacting in place
        var offsets = new int[numUsers + 1];
        int w = 0;
        for (int u = 0; u < numUsers; u++)
        {
            var row = buf.AsSpan(counts[u], counts[u + 1] - counts[u]);
            row.Sort();
            offsets[u] = w;
            for (int k = 0; k < row.Length; k++)
                if (k == 0 || row[k] != row[k - 1]) buf[w++] = row[k];
        }
        offsets[numUsers] = w;
        return new UserItems(numUsers, numItems, offsets, w == buf.Length ? buf : buf[..w]);
    }

    /// <summary>Builds the CSR from one list per user (duplicates merged).</summary>
    public static UserItems FromLists(int numItems, IReadOnlyList<IReadOnlyList<int>> perUser)
    {
        var us = new List<int>(); var its = new List<int>();
        for (int u = 0; u < perUser.Count; u++) foreach (var i in perUser[u]) { us.Add(u); its.Add(i); }
        return FromPairs(perUser.Count, numItems, us.ToArray(), its.ToArray());
    }

    /// <summary>An empty set over the given shape.</summary>
    public static UserItems Empty(int numUsers, int numItems) => new(numUsers, numItems, new int[numUsers + 1], Array.Empty<int>());

    /// <summary>The entries as parallel arrays (user-major order).</summary>
    public (int[] Users, int[] Items) ToPairs()
    {
        var us = new int[Count];
        for (int u = 0; u < NumUsers; u++) us.AsSpan(Offsets[u], Offsets[u + 1] - Offsets[u]).Fill(u);
        return (us, (int[])Items.Clone());
    }

    /// <summary>Number of users with at least one item.</summary>
    public int UsersWithItems()
    {
        int n = 0;
        for (int u = 0; u < NumUsers; u++) if (Offsets[u + 1] > Offsets[u]) n++;
        return n;
    }

    /// <summary>Whether both sets have the same shape and exactly the same (user, item) pairs.</summary>
    public bool SetEquals(UserItems other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return NumUsers == other.NumUsers && NumItems == other.NumItems
            && Offsets.AsSpan().SequenceEqual(other.Offsets) && Items.AsSpan().SequenceEqual(other.Items);
    }

    /// <summary>Whether any (user, item) pair is in both sets.</summary>
    public bool Overlaps(UserItems other)
    {
        for (int u = 0; u < Math.Min(NumUsers, other.NumUsers); u++)
        {
            var a = this[u]; var b = other[u];
            int x = 0, y = 0;
            while (x < a.Length && y < b.Length)
            {
                if (a[x] == b[y]) return true;
                if (a[x] < b[y]) x++; else y++;
            }
        }
        return false;
    }
}
