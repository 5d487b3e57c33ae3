using System.Globalization;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Experiments;
using Lrml.Training;
using Microsoft.Data.Analysis;

namespace Lrml.Notebooks;

/// <summary>
/// Microsoft.Data.Analysis <see cref="DataFrame"/>s of the kit's results, for slicing in notebooks
/// (<c>GroupBy</c>, <c>Filter</c>, <c>Sort</c>, …). Numbers are double columns: float sources are widened exactly
/// from their decimal text (0.85f becomes 0.85, not 0.8500000238418579), so means and displays stay readable.
/// Missing values (a metric one run lacks) are NaN.
/// </summary>
public static class DataFrames
{
    /// <summary>A result table as a DataFrame: numeric columns become double columns, the rest strings.</summary>
    public static DataFrame ToDataFrame(this ResultTable table)
    {
        var cols = new List<DataFrameColumn>();
        for (int c = 0; c < table.Columns.Count; c++)
        {
            string name = table.Columns[c];
            if (table.IsNumeric(name))
                cols.Add(new DoubleDataFrameColumn(name, Enumerable.Range(0, table.Rows.Count).Select(r =>
                    table.Get(r, name) is { } v ? (double?)Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture) : null)));
            else
                cols.Add(new StringDataFrameColumn(name, Enumerable.Range(0, table.Rows.Count).Select(r => table.Text(r, name))));
        }
        return new DataFrame(cols);
    }

    /// <summary>One row per run: dataset, protocol, model, seed, epochs, best_epoch, train_seconds, eval_seconds,
    /// then one column per test metric and one "val/…" column per validation metric (union over runs).</summary>
    public static DataFrame ToDataFrame(this IEnumerable<RunResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var list = runs.ToList();
        var metrics = list.SelectMany(r => r.Metrics.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var val = list.SelectMany(r => r.ValidationMetrics.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("dataset", list.Select(r => r.Dataset)),
            new StringDataFrameColumn("protocol", list.Select(r => r.Protocol)),
            new StringDataFrameColumn("model", list.Select(r => r.Model)),
            new DoubleDataFrameColumn("seed", list.Select(r => (double)r.Seed)),
            new DoubleDataFrameColumn("epochs", list.Select(r => (double)r.Epochs)),
            new DoubleDataFrameColumn("best_epoch", list.Select(r => (double)r.BestEpoch)),
            new DoubleDataFrameColumn("train_seconds", list.Select(r => r.TrainSeconds)),
            new DoubleDataFrameColumn("eval_seconds", list.Select(r => r.EvalSeconds)),
        };
        foreach (var m in metrics)
            columns.Add(new DoubleDataFrameColumn(m, list.Select(r => r.Metrics.TryGetValue(m, out double v) ? v : double.NaN)));
        foreach (var m in val)
            columns.Add(new DoubleDataFrameColumn("val/" + m, list.Select(r => r.ValidationMetrics.TryGetValue(m, out double v) ? v : double.NaN)));
        return new DataFrame(columns);
    }

    /// <summary>Per-user values of an evaluation: a "user" column (index in the split) and one column per metric.</summary>
    public static DataFrame ToDataFrame(this EvaluationResult evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        var columns = new List<DataFrameColumn> { new Int32DataFrameColumn("user", evaluation.Users) };
        var names = evaluation.MetricNames.Count > 0 ? evaluation.MetricNames : evaluation.PerUser.Keys.ToList();
        foreach (var n in names) columns.Add(new DoubleDataFrameColumn(n, evaluation.PerUser[n]));
        return new DataFrame(columns);
    }

    /// <summary>One row per epoch: epoch, loss, mean_loss, train_seconds, eval_seconds, is_best, then "val/…" columns
    /// (NaN at epochs without validation).</summary>
    public static DataFrame ToDataFrame(this IEnumerable<EpochRecord> epochs)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        var list = epochs.ToList();
        var val = list.Where(e => e.Validation is not null).SelectMany(e => e.Validation!.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var columns = new List<DataFrameColumn>
        {
            new Int32DataFrameColumn("epoch", list.Select(e => e.Epoch)),
            new DoubleDataFrameColumn("loss", list.Select(e => e.Loss)),
            new DoubleDataFrameColumn("mean_loss", list.Select(e => e.MeanLoss)),
            new DoubleDataFrameColumn("train_seconds", list.Select(e => e.TrainSeconds)),
            new DoubleDataFrameColumn("eval_seconds", list.Select(e => e.EvalSeconds)),
            new BooleanDataFrameColumn("is_best", list.Select(e => e.IsBest)),
        };
        foreach (var m in val)
            columns.Add(new DoubleDataFrameColumn("val/" + m, list.Select(e => e.Validation is not null && e.Validation.TryGetValue(m, out double v) ? v : double.NaN)));
        return new DataFrame(columns);
    }

    /// <summary>One row per dataset card: the headline numbers as double columns.</summary>
    public static DataFrame ToDataFrame(this IEnumerable<DatasetCard> cards)
    {
        ArgumentNullException.ThrowIfNull(cards);
        var list = cards.ToList();
        return new DataFrame(
            new StringDataFrameColumn("dataset", list.Select(c => c.Name)),
            new DoubleDataFrameColumn("users", list.Select(c => (double)c.ActiveUsers)),
            new DoubleDataFrameColumn("items", list.Select(c => (double)c.ActiveItems)),
            new DoubleDataFrameColumn("interactions", list.Select(c => (double)c.Interactions)),
            new DoubleDataFrameColumn("density", list.Select(c => c.Density)),
            new DoubleDataFrameColumn("per_user_median", list.Select(c => c.PerUser.Median)),
            new DoubleDataFrameColumn("per_user_mean", list.Select(c => c.PerUser.Mean)),
            new DoubleDataFrameColumn("per_item_median", list.Select(c => c.PerItem.Median)),
            new DoubleDataFrameColumn("per_item_mean", list.Select(c => c.PerItem.Mean)));
    }

    /// <summary>
    /// The interactions as a table: raw user and item ids (strings), the rating (double, NaN without ratings) and the
    /// Unix timestamp (double seconds, NaN without timestamps), optionally the item title. One row per interaction,
    /// so keep it to datasets that fit in memory comfortably (ML-1M is about 100 MB as a DataFrame).
    /// </summary>
    public static DataFrame ToDataFrame(this Interactions data, bool withTitles = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = data.Count;
        var users = new string[n]; var items = new string[n];
        var rating = new double[n]; var time = new double[n];
        var widened = new Dictionary<float, double>(); // ratings take few distinct values: widen each once
        for (int k = 0; k < n; k++)
        {
            users[k] = data.Users[data.User[k]];
            items[k] = data.Items[data.Item[k]];
            if (data.Rating is { } r)
            {
                if (!widened.TryGetValue(r[k], out double w)) widened[r[k]] = w = Widen(r[k]);
                rating[k] = w;
            }
            else rating[k] = double.NaN;
            time[k] = data.Timestamp is { } t ? t[k] : double.NaN;
        }
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("user", users), new StringDataFrameColumn("item", items),
            new DoubleDataFrameColumn("rating", rating), new DoubleDataFrameColumn("timestamp", time),
        };
        if (withTitles && data.Catalog is { } cat)
            columns.Add(new StringDataFrameColumn("title", items.Select(cat.TitleOf)));
        return new DataFrame(columns);
    }

    /// <summary>A float as the double with the same shortest decimal text (0.85f → 0.85).</summary>
    public static double Widen(float f) =>
        float.IsFinite(f) ? double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : f;

    /// <summary>A DataFrame as an HTML table of its first <paramref name="maxRows"/> rows, with its shape.</summary>
    public static string ToHtml(DataFrame frame, int maxRows = 20)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var t = new HtmlTable(frame.Columns.Select(c => c.Name), null);
        long rows = frame.Rows.Count;
        for (long r = 0; r < Math.Min(rows, maxRows); r++)
        {
            var cells = new object?[frame.Columns.Count];
            for (int c = 0; c < cells.Length; c++) cells[c] = frame.Columns[c][r];
            t.AddRow(cells);
        }
        t.Note = $"DataFrame: {rows.ToString("N0", CultureInfo.InvariantCulture)} rows × {frame.Columns.Count} columns" +
                 (rows > maxRows ? $" (first {maxRows} shown)" : "");
        return t.ToHtml();
    }
}
