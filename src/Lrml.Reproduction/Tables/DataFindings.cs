using System.Globalization;
using Lrml.Data;
using Lrml.Protocols;

namespace Lrml.Reproduction;

/// <summary>
/// What notebook 00 found about the data present, computed from the dataset cards and the splits (never typed by hand
/// about one copy of the data): each dataset's size against the official MovieLens figures, its ratings and timestamps
/// as present in this copy, how the splits hold out items, and how heavy-tailed user activity is.
/// </summary>
public static class DataFindings
{
    /// <summary>(users, items, interactions) published in the MovieLens READMEs, to check a copy against.</summary>
    internal static readonly IReadOnlyDictionary<string, (int Users, int Items, long Interactions)> Official =
        new Dictionary<string, (int, int, long)>
        {
            ["ml-100k"] = (943, 1_682, 100_000),
            ["ml-1m"] = (6_040, 3_706, 1_000_209),
            ["ml-latest-small"] = (610, 9_724, 100_836),
        };

    /// <summary>The findings for <paramref name="cards"/> and the splits shown (null when a split was not built).</summary>
    public static Findings Compute(IReadOnlyList<DatasetCard> cards, Split? leaveLastOut = null, Split? ncf = null)
    {
        ArgumentNullException.ThrowIfNull(cards);
        var ci = CultureInfo.InvariantCulture;
        var points = new List<string>();
        if (cards.Count == 0)
            points.Add("No dataset was found under the data root: the kit falls back to its embedded synthetic dataset (see section 5 for how to fetch the real ones).");
        foreach (var c in cards)
        {
            string size = string.Create(ci, $"{c.ActiveUsers:N0} users, {c.ActiveItems:N0} items, {c.Interactions:N0} interactions ({c.Density:P1} dense)");
            string check = "";
            if (Official.TryGetValue(c.Name, out var o))
                check = o.Users == c.ActiveUsers && o.Items == c.ActiveItems && o.Interactions == c.Interactions
                    ? " — matches the official figures"
                    : string.Create(ci, $" — **differs from the official figures** ({o.Users:N0} users, {o.Items:N0} items, {o.Interactions:N0} interactions)");
            string activity = string.Create(ci, $"interactions per user: min {c.PerUser.Min:0}, median {c.PerUser.Median:0.#}, max {c.PerUser.Max:N0}");
            string ratings;
            if (c.RatingHistogram is { Count: > 0 } h)
            {
                long total = h.Sum(p => p.Value);
                var top = h.MaxBy(p => p.Value);
                ratings = string.Create(ci, $"ratings on {h.Count} levels ({h[0].Key:0.##}–{h[^1].Key:0.##}), most often {top.Key:0.##} ({(double)top.Value / total:P0})");
            }
            else if (c.ValueSummary is not null) ratings = string.Create(ci, $"a value column with {c.DistinctValues:N0} distinct values (counts or weights, not ratings)");
            else ratings = "**no ratings** in this copy";
            string time = c.TimeRange is { } tr
                ? string.Create(ci, $"timestamps from {tr.First.UtcDateTime:yyyy-MM-dd} to {tr.Last.UtcDateTime:yyyy-MM-dd}")
                : "**no timestamps** in this copy (a temporal split falls back to file order)";
            points.Add($"**{c.Name}**: {size}{check}; {activity}; {ratings}; {time}.");
        }
        if (leaveLastOut is not null)
        {
            string candidates = leaveLastOut.TestNegatives is { } tn
                ? FormattableString.Invariant($", each held-out item ranked against {tn.Count / Math.Max(1, leaveLastOut.Test.Count):N0} frozen sampled candidates.")
                : ".";
            points.Add(FormattableString.Invariant($"**Leave-last-out on {leaveLastOut.Dataset}** holds out {leaveLastOut.Validation.Count:N0} validation and ") +
                FormattableString.Invariant($"{leaveLastOut.Test.Count:N0} test items (one each per user that has enough interactions) and keeps {leaveLastOut.Train.Count:N0} training pairs") +
                candidates);
        }
        if (ncf is not null)
        {
            string Note(string key) => !ncf.Notes.TryGetValue(key, out var v) ? "?"
                : long.TryParse(v, NumberStyles.Integer, ci, out long n) ? n.ToString("N0", ci) : v;
            points.Add(FormattableString.Invariant($"**The NCF split** of {ncf.Dataset}: {ncf.Test.Count:N0} published test pairs; of {Note("ncf.test_negatives_published")} published negatives, ") +
                $"{Note("ncf.duplicate_negatives_dropped")} repeat the user's own test item and are dropped ({Note("ncf.test_negatives")} remain); " +
                FormattableString.Invariant($"the {Note("ncf.train_pairs_published")} training pairs split into {ncf.Train.Count:N0} for training and {ncf.Validation.Count:N0} for validation."));
        }
        var busiest = cards.Where(c => c.ActiveUsers > 0).OrderByDescending(c => c.PerUser.Max).FirstOrDefault();
        if (busiest is not null)
        {
            var skewed = cards.Where(c => c.ActiveUsers > 0 && c.PerUser.Max > 5 * c.PerUser.Median).Select(c => c.Name).ToList();
            points.Add(skewed.Count == cards.Count(c => c.ActiveUsers > 0)
                ? FormattableString.Invariant($"**User activity is heavy-tailed** in every dataset here (the most active user has more than 5× the median; most active overall: {busiest.PerUser.Max:N0} interactions in {busiest.Name}), so per-user averages are dominated by light users — one reason the kit reports per-user values and paired tests.")
                : FormattableString.Invariant($"User activity is heavy-tailed in {(skewed.Count == 0 ? "none" : string.Join(", ", skewed))} of the datasets here (most active user more than 5× the median)."));
        }
        return new Findings("What the data shows", points);
    }
}
