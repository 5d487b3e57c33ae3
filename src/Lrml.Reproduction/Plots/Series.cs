using Lrml.Evaluation;

namespace Lrml.Reproduction.Plots;

/// <summary>What the error bars of an aggregated series show.</summary>
public enum ErrorBar
{
    /// <summary>No error bars.</summary>
    None,
    /// <summary>Sample standard deviation of the repeated values (n − 1 denominator).</summary>
    StandardDeviation,
    /// <summary>Standard error of the mean: standard deviation / √n.</summary>
    StandardError,
    /// <summary>Half-width of the 95 % Student-t confidence interval of the mean.</summary>
    ConfidenceInterval95,
}

/// <summary>One line of a line chart: <see cref="Y"/> against <see cref="X"/>, with optional symmetric error bars.</summary>
/// <param name="Name">Legend name (e.g. the model).</param>
/// <param name="X">X values (e.g. a hyper-parameter), same length as <paramref name="Y"/>.</param>
/// <param name="Y">Y values (e.g. the mean metric over seeds); NaN leaves a gap.</param>
/// <param name="Error">Error-bar half-widths aligned with <paramref name="Y"/>, or null for none.</param>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, IReadOnlyList<double>? Error = null)
{
    /// <summary>
    /// Aggregates repeated measurements (e.g. one per seed) into one series per name: the mean of the values at
    /// each x, with the chosen error bars. Series keep the order in which their names first appear; points are
    /// sorted by x. A single value at an x gets a zero error bar.
    /// </summary>
    public static IReadOnlyList<Series> Aggregate(IEnumerable<(string Series, double X, double Y)> samples, ErrorBar error = ErrorBar.StandardDeviation)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var order = new List<string>();
        var groups = new Dictionary<string, SortedDictionary<double, List<double>>>(StringComparer.Ordinal);
        foreach (var (name, x, y) in samples)
        {
            if (double.IsNaN(x)) throw new ArgumentException($"Series '{name}' has a NaN x value.", nameof(samples));
            if (!groups.TryGetValue(name, out var byX)) { byX = new SortedDictionary<double, List<double>>(); groups[name] = byX; order.Add(name); }
            if (!byX.TryGetValue(x, out var ys)) { ys = new List<double>(); byX[x] = ys; }
            ys.Add(y);
        }
        var result = new List<Series>(order.Count);
        foreach (var name in order)
        {
            var byX = groups[name];
            var xs = new double[byX.Count]; var means = new double[byX.Count]; var errs = new double[byX.Count];
            int k = 0;
            foreach (var (x, ys) in byX)
            {
                var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ys);
                xs[k] = x;
                means[k] = Statistics.Mean(span);
                errs[k] = ErrorOf(span, error);
                k++;
            }
            result.Add(new Series(name, xs, means, error == ErrorBar.None ? null : errs));
        }
        return result;
    }

    /// <summary>The error-bar half-width of a sample (0 for a single value).</summary>
    public static double ErrorOf(ReadOnlySpan<double> values, ErrorBar error)
    {
        if (values.Length <= 1) return 0;
        return error switch
        {
            ErrorBar.None => 0,
            ErrorBar.StandardDeviation => Statistics.SampleStd(values),
            ErrorBar.StandardError => Statistics.SampleStd(values) / Math.Sqrt(values.Length),
            ErrorBar.ConfidenceInterval95 => HalfWidth(Statistics.Summarize(values, 0.95)),
            _ => throw new ArgumentOutOfRangeException(nameof(error), error, null),
        };

        static double HalfWidth(Summary s) => (s.CiHigh - s.CiLow) / 2;
    }
}

/// <summary>One group of bars of a bar chart: one value per category, with optional error bars.</summary>
/// <param name="Name">Legend name (e.g. the model).</param>
/// <param name="Values">One value per category of the chart.</param>
/// <param name="Error">Error-bar half-widths aligned with <paramref name="Values"/>, or null.</param>
public sealed record BarSeries(string Name, IReadOnlyList<double> Values, IReadOnlyList<double>? Error = null);
