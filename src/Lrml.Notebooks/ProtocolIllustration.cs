using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Protocols;

namespace Lrml.Notebooks;

/// <summary>One item of a user's illustrated split.</summary>
/// <param name="Role">"train", "validation", "test", "validation candidate" or "test candidate".</param>
/// <param name="Item">Raw item id.</param>
/// <param name="Title">Item title from the catalog (the raw id when unknown).</param>
/// <param name="Time">When the user interacted with it (UTC), or null (no timestamps, or a sampled candidate).</param>
/// <param name="Rating">The user's rating, or null.</param>
public sealed record IllustratedItem(string Role, string Item, string Title, DateTime? Time, double? Rating);

/// <summary>
/// How a protocol treats one user: the user's training items (the latest few), validation and test items with titles
/// and dates, and a sample of the frozen sampled candidates (never-interacted items the held-out item is ranked
/// against). Works in the split's own index space (the NCF split renumbers items; raw ids map back through
/// <see cref="Split.ItemIds"/>), looking dates and ratings up in the original interactions.
/// </summary>
[TypeFormatterSource(typeof(KitFormatterSource))]
public sealed class ProtocolIllustration
{
    private ProtocolIllustration(string dataset, string protocol, string user, int trainCount, int validationCount, int testCount,
        int validationCandidates, int testCandidates, IReadOnlyList<IllustratedItem> items)
    {
        Dataset = dataset; Protocol = protocol; User = user; TrainCount = trainCount; ValidationCount = validationCount;
        TestCount = testCount; ValidationCandidateCount = validationCandidates; TestCandidateCount = testCandidates; Items = items;
    }

    /// <summary>Dataset name.</summary>
    public string Dataset { get; }
    /// <summary>Protocol name.</summary>
    public string Protocol { get; }
    /// <summary>Raw id of the illustrated user.</summary>
    public string User { get; }
    /// <summary>Number of the user's training items.</summary>
    public int TrainCount { get; }
    /// <summary>Number of the user's validation items.</summary>
    public int ValidationCount { get; }
    /// <summary>Number of the user's test items.</summary>
    public int TestCount { get; }
    /// <summary>Number of the user's frozen validation candidates.</summary>
    public int ValidationCandidateCount { get; }
    /// <summary>Number of the user's frozen test candidates.</summary>
    public int TestCandidateCount { get; }
    /// <summary>The items shown: the latest training items, all held-out items, the first candidates.</summary>
    public IReadOnlyList<IllustratedItem> Items { get; }

    /// <summary>
    /// Illustrates <paramref name="split"/> (built from <paramref name="data"/>) on one user: <paramref name="userRawId"/>,
    /// or by default the first user (in the split's order) with validation and test items whose training count is
    /// closest to the median training count. Shows the latest <paramref name="trainShown"/> training items and the
    /// first <paramref name="candidatesShown"/> candidates of each held-out set.
    /// </summary>
    public static ProtocolIllustration For(Interactions data, Split split, string? userRawId = null, int trainShown = 8, int candidatesShown = 5)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(split);
        int u = userRawId is null ? TypicalUser(split) : SplitUser(split, data, userRawId);
        string rawUser = split.UserIds?[u] ?? data.Users[u];

        // The user's interactions in the original data: raw item → (time, rating) of the earliest occurrence.
        var seen = new Dictionary<string, (long? Time, float? Rating)>(StringComparer.Ordinal);
        if (data.Users.TryGetIndex(rawUser, out int du))
            for (int k = 0; k < data.Count; k++)
                if (data.User[k] == du)
                {
                    string ri = data.Items[data.Item[k]];
                    long? t = data.Timestamp?[k]; float? r = data.Rating?[k];
                    if (!seen.TryGetValue(ri, out var prev) || (t is not null && prev.Time is not null && t < prev.Time)) seen[ri] = (t, r);
                }

        string Raw(int item) => split.ItemIds?[item] ?? data.Items[item];
        IllustratedItem Make(string role, int item)
        {
            string raw = Raw(item);
            string title = data.Catalog?.TitleOf(raw) ?? raw;
            DateTime? when = null; double? rating = null;
            if (role is "train" or "validation" or "test" && seen.TryGetValue(raw, out var s))
            {
                if (s.Time is long t) when = DateTimeOffset.FromUnixTimeSeconds(t).UtcDateTime;
                if (s.Rating is float r) rating = DataFrames.Widen(r);
            }
            return new IllustratedItem(role, raw, title, when, rating);
        }

        var train = split.Train[u].ToArray().Select(i => Make("train", i)).ToList();
        // Latest training items first when times are known; else the split's order.
        var trainShownItems = train.Any(i => i.Time is not null)
            ? train.OrderByDescending(i => i.Time ?? DateTime.MinValue).Take(trainShown).OrderBy(i => i.Time ?? DateTime.MinValue).ToList()
            : train.Take(trainShown).ToList();
        var items = new List<IllustratedItem>(trainShownItems);
        items.AddRange(split.Validation[u].ToArray().Select(i => Make("validation", i)));
        items.AddRange(split.Test[u].ToArray().Select(i => Make("test", i)));
        int vc = split.ValidationNegatives?.CountOf(u) ?? 0, tc = split.TestNegatives?.CountOf(u) ?? 0;
        if (split.ValidationNegatives is { } vn) items.AddRange(vn[u].ToArray().Take(candidatesShown).Select(i => Make("validation candidate", i)));
        if (split.TestNegatives is { } tn) items.AddRange(tn[u].ToArray().Take(candidatesShown).Select(i => Make("test candidate", i)));
        return new ProtocolIllustration(split.Dataset, split.Protocol, rawUser, split.Train.CountOf(u), split.Validation.CountOf(u),
            split.Test.CountOf(u), vc, tc, items);
    }

    private static int SplitUser(Split split, Interactions data, string raw)
    {
        if (split.UserIds is { } ids)
            return ids.TryGetIndex(raw, out int u) ? u : throw new ArgumentException($"User '{raw}' is not in the {split.Dataset}/{split.Protocol} split.", nameof(raw));
        return data.Users.TryGetIndex(raw, out int d) ? d : throw new ArgumentException($"User '{raw}' is not in dataset {data.Name}.", nameof(raw));
    }

    private static int TypicalUser(Split split)
    {
        var candidates = Enumerable.Range(0, split.NumUsers).Where(u => split.Validation.CountOf(u) > 0 && split.Test.CountOf(u) > 0).ToArray();
        if (candidates.Length == 0) candidates = Enumerable.Range(0, split.NumUsers).Where(u => split.Test.CountOf(u) > 0).ToArray();
        if (candidates.Length == 0) throw new ArgumentException($"Split {split.Dataset}/{split.Protocol} has no user with test items.", nameof(split));
        var counts = candidates.Select(u => split.Train.CountOf(u)).OrderBy(c => c).ToArray();
        int median = counts[counts.Length / 2];
        int best = candidates[0];
        foreach (int u in candidates)
            if (Math.Abs(split.Train.CountOf(u) - median) < Math.Abs(split.Train.CountOf(best) - median)) best = u;
        return best;
    }

    /// <summary>The summary line: user, counts per part.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"{Dataset} / {Protocol} · user {User}: {TrainCount} train, {ValidationCount} validation, {TestCount} test items; " +
        $"{ValidationCandidateCount} validation and {TestCandidateCount} test sampled candidates");

    /// <summary>The items as a table (role, item, title, date, rating).</summary>
    public HtmlTable ToTable()
    {
        var t = new HtmlTable(["role", "item", "title", "date (UTC)", "rating"], Summary);
        foreach (var i in Items) t.AddRow(i.Role, i.Item, i.Title, i.Time?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "", i.Rating);
        int hiddenTrain = TrainCount - Items.Count(i => i.Role == "train");
        var note = new StringBuilder();
        if (hiddenTrain > 0) note.Append(CultureInfo.InvariantCulture, $"{hiddenTrain} earlier training items not shown. ");
        note.Append(Protocol == NcfPublic.ProtocolName
            ? "Test candidates are the negatives published with the NCF split; validation candidates are never-interacted items drawn once (seeded). Both are frozen with the split, and each held-out item is ranked against its user's candidates."
            : "Candidates are never-interacted items drawn once (seeded) and frozen with the split; each held-out item is ranked against its user's candidates.");
        t.Note = note.ToString();
        return t;
    }

    /// <summary>The table as HTML.</summary>
    public string ToHtml() => ToTable().ToHtml();

    /// <summary>The table as text.</summary>
    public override string ToString() => ToTable().ToString();
}
