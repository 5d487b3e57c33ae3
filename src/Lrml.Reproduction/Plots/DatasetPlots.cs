using System.Globalization;
using Lrml.Data;
using Plotly.NET;

namespace Lrml.Reproduction.Plots;

/// <summary>Charts that describe datasets (notebook 00 and <c>lrml data</c> reports).</summary>
public static class DatasetPlots
{
    /// <summary>Interactions per user of one dataset as a histogram with log-spaced bins (users without interactions left out).</summary>
    public static GenericChart InteractionsPerUser(Interactions data, int bins = 30)
    {
        ArgumentNullException.ThrowIfNull(data);
        var counts = PerUserCounts(data).Where(c => c > 0).Select(c => (double)c).ToArray();
        return Charts.Histogram(counts, "interactions per user (log scale)", $"{data.Name}: interactions per user", bins, logBins: true, yTitle: "users");
    }

    /// <summary>
    /// User activity of several datasets on one chart: the share of users with at least k interactions against k,
    /// both axes logarithmic (a complementary cumulative distribution; heavy tails show as straight-ish lines).
    /// </summary>
    public static GenericChart UserActivity(IEnumerable<Interactions> datasets, int maxPoints = 200)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        var series = new List<Series>();
        foreach (var data in datasets)
        {
            var counts = PerUserCounts(data).Where(c => c > 0).ToArray();
            if (counts.Length == 0) continue;
            var (x, y) = Ccdf(counts, maxPoints);
            series.Add(new Series(data.Name, x, y));
        }
        if (series.Count == 0) throw new ArgumentException("No dataset with interactions.", nameof(datasets));
        var chart = Charts.Line(series, "interactions per user, k (log scale)", "share of users with ≥ k (log scale)", "User activity", logX: true, markers: false);
        var layout = GenericChart.getLayout(chart);
        var yaxis = (Dictionary<string, object>)layout.GetPropertyValue("yaxis");
        yaxis["type"] = "log";
        return chart;
    }

    /// <summary>Rating values of several datasets as grouped bars: the share of each rating value per dataset.</summary>
    public static GenericChart RatingDistribution(IEnumerable<DatasetCard> cards)
    {
        ArgumentNullException.ThrowIfNull(cards);
        var withRatings = cards.Where(c => c.RatingHistogram is { Count: > 0 }).ToList();
        if (withRatings.Count == 0) throw new ArgumentException("None of the datasets has ratings.", nameof(cards));
        var values = withRatings.SelectMany(c => c.RatingHistogram!.Select(p => p.Key)).Distinct().OrderBy(v => v).ToArray();
        var categories = values.Select(v => v.ToString("0.#", CultureInfo.InvariantCulture)).ToArray();
        var series = withRatings.Select(c =>
        {
            double total = c.RatingHistogram!.Sum(p => (double)p.Value);
            var lookup = c.RatingHistogram!.ToDictionary(p => p.Key, p => p.Value);
            return new BarSeries(c.Name, values.Select(v => lookup.TryGetValue(v, out long n) ? n / total : 0).ToArray());
        }).ToArray();
        return Charts.Bars(categories, series, "share of ratings", "rating", "Rating distribution");
    }

    /// <summary>Interactions per user index (0 for indices without interactions).</summary>
    public static int[] PerUserCounts(Interactions data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var counts = new int[data.NumUsers];
        foreach (int u in data.User) counts[u]++;
        return counts;
    }

    /// <summary>
    /// Complementary cumulative distribution of positive counts: for each distinct value k (ascending), the share of
    /// values ≥ k; thinned to at most <paramref name="maxPoints"/> points spread evenly in log k (first and last kept).
    /// </summary>
    public static (double[] K, double[] Share) Ccdf(IReadOnlyList<int> counts, int maxPoints = 200)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Count == 0) return ([], []);
        var sorted = counts.ToArray();
        Array.Sort(sorted);
        var ks = new List<double>(); var share = new List<double>();
        for (int i = 0; i < sorted.Length; i++)
            if (i == 0 || sorted[i] != sorted[i - 1]) { ks.Add(sorted[i]); share.Add((double)(sorted.Length - i) / sorted.Length); }
        if (ks.Count <= maxPoints || maxPoints < 2) return (ks.ToArray(), share.ToArray());
        double lo = Math.Log(Math.Max(ks[0], 1)), hi = Math.Log(Math.Max(ks[^1], 1));
        var keepK = new List<double>(); var keepS = new List<double>();
        double next = lo, step = (hi - lo) / (maxPoints - 1);
        for (int j = 0; j < ks.Count; j++)
        {
            bool last = j == ks.Count - 1;
            if (last || Math.Log(Math.Max(ks[j], 1)) >= next)
            {
                keepK.Add(ks[j]); keepS.Add(share[j]);
                next = Math.Log(Math.Max(ks[j], 1)) + step;
            }
        }
        return (keepK.ToArray(), keepS.ToArray());
    }
}
