using System.Globalization;
using Lrml.Evaluation;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Draws the frozen sampled candidates of a split: for every user with held-out items in the target, K negatives
/// drawn uniformly without replacement from the items the user never interacted with (not in train, validation
/// or test). Candidates are drawn once, saved with the split and shared by every model, so all models are ranked
/// against the same items (unlike frameworks that re-draw them at every evaluation).
/// <para>Reproducibility: a seed and a target fix the result. Validation uses the stream
/// <c>"candidates/validation"</c> and test <c>"candidates/test"</c>, so the two sets are independent. Users are
/// visited in index order.</para>
/// <para>A user with fewer than K never-interacted items gets all of them (counted in <c>usersShort</c> and in the
/// split notes <c>candidates.*.users_short</c>).</para>
/// </summary>
internal static class CandidateSampler
{
    /// <summary>Stream name of the Rng for one target.</summary>
    public static string StreamName(EvalTarget target) => target == EvalTarget.Validation ? "candidates/validation" : "candidates/test";

    /// <summary>K negatives per user with held-out items in <paramref name="target"/>.</summary>
    public static UserItems Sample(Split split, EvalTarget target, int k, long seed) => Sample(split, target, k, seed, out _);

    /// <summary>K negatives per user with held-out items in <paramref name="target"/>; <paramref name="usersShort"/>
    /// counts users that had fewer than K never-interacted items and got all of them.</summary>
    public static UserItems Sample(Split split, EvalTarget target, int k, long seed, out int usersShort)
    {
        ArgumentNullException.ThrowIfNull(split);
        var heldOut = target == EvalTarget.Validation ? split.Validation : split.Test;
        return Sample(heldOut, [split.Train, split.Validation, split.Test], k, new Rng(seed, StreamName(target)), out usersShort);
    }

    /// <summary>
    /// Core sampler: K negatives for every user with at least one item in <paramref name="heldOut"/>, excluding every
    /// item of that user in any of <paramref name="known"/>. Result rows are ascending (UserItems convention).
    /// </summary>
    public static UserItems Sample(UserItems heldOut, IReadOnlyList<UserItems> known, int k, Rng rng, out int usersShort)
    {
        ArgumentNullException.ThrowIfNull(heldOut);
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(rng);
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "Number of sampled negatives must be at least 1.");
        int nu = heldOut.NumUsers, ni = heldOut.NumItems;
        foreach (var s in known)
            if (s.NumUsers != nu || s.NumItems != ni)
                throw new ArgumentException($"Known set shape {s.NumUsers}x{s.NumItems} differs from held-out shape {nu}x{ni}.", nameof(known));

        // mark[item] == 2u+1: user u knows item; == 2u+2: already drawn for user u. Stamps avoid clearing per user.
        var mark = new long[ni];
        var offsets = new int[nu + 1];
        long capacity = Math.Min((long)heldOut.UsersWithItems() * k, (long)nu * ni);
        if (capacity > Array.MaxLength) throw new InvalidOperationException($"{capacity:N0} candidates do not fit in one array; use fewer negatives.");
        var outItems = new int[capacity];
        int[] pool = new int[Math.Min(ni, 1024)];
        int w = 0; usersShort = 0;
        for (int u = 0; u < nu; u++)
        {
            offsets[u] = w;
            if (heldOut.CountOf(u) == 0) continue;
            long knownMark = 2L * u + 1, drawnMark = 2L * u + 2;
            int knownCount = 0;
            foreach (var s in known)
                foreach (int i in s[u])
                    if (mark[i] != knownMark) { mark[i] = knownMark; knownCount++; }
            int available = ni - knownCount;
            var row = outItems.AsSpan(w);
            int taken;
            if (available <= k || knownCount > ni / 2 || available < 2 * k)
            {
                // Dense user: enumerate the complement and draw by partial Fisher–Yates.
                if (pool.Length < available) pool = new int[Math.Max(available, pool.Length * 2)];
                int m = 0;
                for (int i = 0; i < ni; i++) if (mark[i] != knownMark) pool[m++] = i;
                if (m <= k) { taken = m; pool.AsSpan(0, m).CopyTo(row); if (m < k) usersShort++; }
                else
                {
                    for (int j = 0; j < k; j++)
                    {
                        int r = j + rng.NextInt(m - j);
                        (pool[j], pool[r]) = (pool[r], pool[j]);
                    }
                    pool.AsSpan(0, k).CopyTo(row);
                    taken = k;
                }
            }
            else
            {
                // Sparse user: rejection sampling over the whole item range (expected < 2 draws per negative).
                taken = 0;
                while (taken < k)
                {
                    int i = rng.NextInt(ni);
                    if (mark[i] == knownMark || mark[i] == drawnMark) continue;
                    mark[i] = drawnMark;
                    row[taken++] = i;
                }
            }
            row[..taken].Sort();
            w += taken;
        }
        offsets[nu] = w;
        return new UserItems(nu, ni, offsets, w == outItems.Length ? outItems : outItems[..w]);
    }

    /// <summary>
    /// A copy of <paramref name="split"/> with frozen sampled negatives for validation (when it has validation items)
    /// and for test. Existing test negatives (e.g. the published NCF ones) are kept unless
    /// <paramref name="replaceExistingTest"/>; the notes record K and the short users.
    /// </summary>
    public static Split WithSampledCandidates(Split split, int k, long seed, bool replaceExistingTest = false)
    {
        ArgumentNullException.ThrowIfNull(split);
        var notes = new Dictionary<string, string>(split.Notes);
        UserItems? valNeg = null;
        if (split.Validation.Count > 0)
        {
            valNeg = Sample(split, EvalTarget.Validation, k, seed, out int shortV);
            notes["candidates.validation.k"] = k.ToString(CultureInfo.InvariantCulture);
            notes["candidates.validation.users_short"] = shortV.ToString(CultureInfo.InvariantCulture);
        }
        var testNeg = split.TestNegatives;
        if (testNeg is null || replaceExistingTest)
        {
            testNeg = Sample(split, EvalTarget.Test, k, seed, out int shortT);
            notes["candidates.test.k"] = k.ToString(CultureInfo.InvariantCulture);
            notes["candidates.test.users_short"] = shortT.ToString(CultureInfo.InvariantCulture);
        }
        return split.With(validationNegatives: valNeg, testNegatives: testNeg, notes: notes);
    }
}
