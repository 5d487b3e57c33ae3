using System.Globalization;
using System.Text;

namespace Lrml.Data;

/// <summary>
/// Distribution summary of a count (interactions per user or per item): minimum, 5/25/50/75/95 % quantiles,
/// maximum and mean. Quantiles interpolate linearly between order statistics (position q·(n−1) in the sorted
/// values, numpy's default "linear" method).
/// </summary>
public sealed record CountSummary(double Min, double P5, double P25, double Median, double P75, double P95, double Max, double Mean)
{
    /// <summary>Summarises values (not modified).</summary>
    public static CountSummary Of(ReadOnlySpan<int> values)
    {
        var asDouble = new double[values.Length];
        for (int k = 0; k < values.Length; k++) asDouble[k] = values[k];
        return OfCopy(asDouble);
    }

    /// <summary>Summarises values such as listening counts (not modified).</summary>
    public static CountSummary OfValues(ReadOnlySpan<float> values)
    {
        var asDouble = new double[values.Length];
        for (int k = 0; k < values.Length; k++) asDouble[k] = values[k];
        return OfCopy(asDouble);
    }

    /// <summary>Sorts <paramref name="sorted"/> (a copy the caller owns) and summarises it.</summary>
    private static CountSummary OfCopy(double[] sorted)
    {
        if (sorted.Length == 0) return new CountSummary(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        Array.Sort(sorted);
        double sum = 0;
        foreach (double v in sorted) sum += v;
        return new CountSummary(sorted[0], Quantile(sorted, 0.05), Quantile(sorted, 0.25), Quantile(sorted, 0.5),
            Quantile(sorted, 0.75), Quantile(sorted, 0.95), sorted[^1], sum / sorted.Length);
    }

    /// <summary>Linear-interpolation quantile of sorted values.</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"min {Min:0.##}, 5% {P5:0.##}, 25% {P25:0.##}, median {Median:0.##}, 75% {P75:0.##}, 95% {P95:0.##}, max {Max:0.##}, mean {Mean:0.##}");
}

/// <summary>
/// A dataset card: size, density, per-user and per-item count distributions, rating histogram, time range and
/// the side information present. Per-user/per-item counts run over the whole index space (ids with no
/// interaction count as 0; run <see cref="Preprocess.Compact"/> first to leave them out).
/// </summary>
public sealed class DatasetCard
{
    /// <summary>Dataset name.</summary>
    public required string Name { get; init; }
    /// <summary>Size of the user index space.</summary>
    public required int Users { get; init; }
    /// <summary>Size of the item index space.</summary>
    public required int Items { get; init; }
    /// <summary>Users with at least one interaction.</summary>
    public required int ActiveUsers { get; init; }
    /// <summary>Items with at least one interaction.</summary>
    public required int ActiveItems { get; init; }
    /// <summary>Number of interactions (rows).</summary>
    public required long Interactions { get; init; }
    /// <summary>Distinct (user, item) pairs.</summary>
    public required long DistinctPairs { get; init; }
    /// <summary>Interactions / (Users × Items).</summary>
    public required double Density { get; init; }
    /// <summary>Interactions per user.</summary>
    public required CountSummary PerUser { get; init; }
    /// <summary>Interactions per item.</summary>
    public required CountSummary PerItem { get; init; }
    /// <summary>Count of each distinct rating value, ascending; null without ratings, or when the value column is not a
    /// rating scale (more than <see cref="MaxRatingLevels"/> distinct values: see <see cref="ValueSummary"/>).</summary>
    public IReadOnlyList<KeyValuePair<float, long>>? RatingHistogram { get; init; }

    /// <summary>Quantiles of the value column when it holds more than <see cref="MaxRatingLevels"/> distinct values
    /// (e.g. listening counts), which are not star ratings and are summarised instead of listed one line per value.</summary>
    public CountSummary? ValueSummary { get; init; }

    /// <summary>Distinct values in the value column.</summary>
    public int DistinctValues { get; init; }

    /// <summary>The most distinct values a rating scale has here (half stars 0.5–5 give 10; 20 leaves room).</summary>
    public const int MaxRatingLevels = 20;
    /// <summary>Earliest and latest timestamp, or null without timestamps.</summary>
    public (DateTimeOffset First, DateTimeOffset Last)? TimeRange { get; init; }
    /// <summary>Side information present, e.g. "ratings", "timestamps", "titles (1,682)", "genres (19)", "years".</summary>
    public required IReadOnlyList<string> SideInformation { get; init; }
    /// <summary>Preprocessing log carried in the provenance, if any.</summary>
    public string? Preprocessing { get; init; }

    /// <summary>Computes the card of a dataset.</summary>
    public static DatasetCard From(Interactions data)
    {
        var perUser = new int[data.NumUsers];
        var perItem = new int[data.NumItems];
        for (int k = 0; k < data.Count; k++) { perUser[data.User[k]]++; perItem[data.Item[k]]++; }
        int activeU = 0, activeI = 0;
        foreach (int c in perUser) if (c > 0) activeU++;
        foreach (int c in perItem) if (c > 0) activeI++;

        List<KeyValuePair<float, long>>? hist = null;
        CountSummary? valueSummary = null;
        int distinctValues = 0;
        if (data.Rating is not null)
        {
            var counts = new SortedDictionary<float, long>();
            foreach (float r in data.Rating) counts[r] = counts.TryGetValue(r, out long c) ? c + 1 : 1;
            distinctValues = counts.Count;
            if (counts.Count <= MaxRatingLevels) hist = counts.ToList();
            else valueSummary = CountSummary.OfValues(data.Rating);
        }
        (DateTimeOffset, DateTimeOffset)? range = null;
        if (data.Timestamp is { Length: > 0 } ts)
        {
            long lo = long.MaxValue, hi = long.MinValue;
            foreach (long t in ts) { if (t < lo) lo = t; if (t > hi) hi = t; }
            // the readers refuse such times; data built in code may still hold them
            const long first = -62_135_596_800, last = 253_402_300_799;   // DateTimeOffset's range in Unix seconds
            if (lo < first || hi > last)
                throw new ArgumentException($"Dataset '{data.Name}' has timestamps outside the range of dates ({(lo < first ? lo : hi)} Unix seconds): " +
                                            "they cannot be real times; check how the timestamps were produced.");
            range = (DateTimeOffset.FromUnixTimeSeconds(lo), DateTimeOffset.FromUnixTimeSeconds(hi));
        }
        var side = new List<string>();
        if (data.HasRatings) side.Add(valueSummary is null ? "ratings" : $"values ({distinctValues:N0} distinct, not a rating scale)");
        if (data.HasTimestamps) side.Add("timestamps");
        if (data.Catalog is { } cat)
        {
            side.Add($"titles ({cat.Count:N0})");
            if (cat.GenreNames.Count > 0) side.Add($"genres ({cat.GenreNames.Count})");
            int years = cat.All.Count(i => i.Year is not null);
            if (years > 0) side.Add($"years ({years:N0})");
        }
        double cells = (double)data.NumUsers * data.NumItems;
        return new DatasetCard
        {
            Name = data.Name, Users = data.NumUsers, Items = data.NumItems, ActiveUsers = activeU, ActiveItems = activeI,
            Interactions = data.Count, DistinctPairs = CountDistinctPairs(data),
            Density = cells > 0 ? data.Count / cells : 0,
            PerUser = CountSummary.Of(perUser), PerItem = CountSummary.Of(perItem),
            RatingHistogram = hist, ValueSummary = valueSummary, DistinctValues = distinctValues, TimeRange = range, SideInformation = side,
            Preprocessing = data.Provenance.TryGetValue(ProvenanceKeys.Preprocessing, out var pre) ? pre : null,
        };
    }

    private static long CountDistinctPairs(Interactions data)
    {
        var keys = new long[data.Count];
        for (int k = 0; k < keys.Length; k++) keys[k] = ((long)data.User[k] << 32) | (uint)data.Item[k];
        Array.Sort(keys);
        long distinct = 0;
        for (int k = 0; k < keys.Length; k++) if (k == 0 || keys[k] != keys[k - 1]) distinct++;
        return distinct;
    }

    /// <summary>The card as key/value rows, for tables (values formatted with the invariant culture).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Rows()
    {
        var ci = CultureInfo.InvariantCulture;
        var rows = new List<KeyValuePair<string, string>>
        {
            new("dataset", Name),
            new("users", Users.ToString("N0", ci) + (ActiveUsers != Users ? $" ({ActiveUsers.ToString("N0", ci)} with interactions)" : "")),
            new("items", Items.ToString("N0", ci) + (ActiveItems != Items ? $" ({ActiveItems.ToString("N0", ci)} with interactions)" : "")),
            new("interactions", Interactions.ToString("N0", ci) + (DistinctPairs != Interactions ? $" ({DistinctPairs.ToString("N0", ci)} distinct pairs)" : "")),
            new("density", Density.ToString("P3", ci)),
            new("per user", PerUser.ToString()),
            new("per item", PerItem.ToString()),
        };
        if (RatingHistogram is not null)
            rows.Add(new("ratings", string.Join(", ", RatingHistogram.Select(p => $"{p.Key.ToString("0.##", ci)}: {p.Value.ToString("N0", ci)}"))));
        if (ValueSummary is not null)
            rows.Add(new("values", $"{DistinctValues.ToString("N0", ci)} distinct (counts or weights, not a rating scale): {ValueSummary}"));
        if (TimeRange is { } tr)
            rows.Add(new("time range", $"{tr.First.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", ci)} – {tr.Last.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", ci)} UTC"));
        rows.Add(new("side information", SideInformation.Count == 0 ? "none" : string.Join(", ", SideInformation)));
        if (Preprocessing is not null) rows.Add(new("preprocessing", Preprocessing));
        return rows;
    }

    /// <summary>The card as a Markdown section with a two-column table.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("### Dataset card: ").Append(Name).Append("\n\n| | |\n|---|---|\n");
        foreach (var (k, v) in Rows()) sb.Append("| ").Append(k).Append(" | ").Append(v.Replace("|", "\\|")).Append(" |\n");
        return sb.ToString();
    }

    public override string ToString() => string.Join(Environment.NewLine, Rows().Select(r => $"{r.Key}: {r.Value}"));
}
