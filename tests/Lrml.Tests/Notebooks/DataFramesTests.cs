using Lrml.Data;
using Lrml.Notebooks;
using Lrml.Training;
using Microsoft.Data.Analysis;

namespace Lrml.Tests.Notebooks;

public class DataFramesTests
{
    [Fact]
    public void Runs_OneRowPerRun_MetricsAsDoubleColumns_MissingAsNaN()
    {
        var a = InteractiveTestData.Run("LRML", 1, 0.70, 0.43, validationHr: 0.69);
        var b = InteractiveTestData.Run("CML", 2, 0.66, 0.40);
        b.Metrics["MRR"] = 0.31;
        var df = new[] { a, b }.ToDataFrame();
        Assert.Equal(2, df.Rows.Count);
        Assert.IsType<DoubleDataFrameColumn>(df.Columns["HR@10"]);
        Assert.Equal(0.66, (double)df.Columns["HR@10"][1]!);
        Assert.True(double.IsNaN((double)df.Columns["MRR"][0]!));
        Assert.Equal(0.31, (double)df.Columns["MRR"][1]!);
        Assert.Equal(0.69, (double)df.Columns["val/HR@10"][0]!);
        Assert.True(double.IsNaN((double)df.Columns["val/HR@10"][1]!));
        Assert.Equal("CML", df.Columns["model"][1]);
        Assert.Equal(2.0, (double)df.Columns["seed"][1]!);
    }

    [Fact]
    public void Evaluation_PerUserValues()
    {
        var df = InteractiveTestData.Evaluation().ToDataFrame();
        Assert.Equal(["user", "HR@10", "nDCG@10"], df.Columns.Select(c => c.Name));
        Assert.Equal(8, (int)df.Columns["user"][2]!);
        Assert.Equal(0.5, (double)df.Columns["nDCG@10"][2]!);
        Assert.Equal(2.0 / 3, (double)df.Columns["HR@10"].Mean(), 12);
    }

    [Fact]
    public void Interactions_WidenFloatRatingsExactly()
    {
        var users = new IdMap(["u1", "u2"]); var items = new IdMap(["m1", "m2"]);
        var data = new Interactions("toy", [0, 1, 1], [0, 0, 1], [0.85f, 3.5f, 4.1f], [100, 200, 300], users, items);
        var df = data.ToDataFrame();
        Assert.Equal(0.85, (double)df.Columns["rating"][0]!);   // not 0.8500000238418579
        Assert.Equal(4.1, (double)df.Columns["rating"][2]!);
        Assert.Equal("u2", df.Columns["user"][1]);
        Assert.Equal("m2", df.Columns["item"][2]);
        Assert.Equal(300.0, (double)df.Columns["timestamp"][2]!);
        Assert.Equal((0.85 + 3.5 + 4.1) / 3, (double)df.Columns["rating"].Mean(), 12);
    }

    [Fact]
    public void Epochs_ValidationColumnsNaNWhereNotEvaluated()
    {
        var epochs = new[]
        {
            new EpochRecord(1, 10, 0.5, 1.0, 0, null, false, 10),
            new EpochRecord(2, 8, 0.4, 1.0, 0.2, new Dictionary<string, double> { ["HR@10"] = 0.6 }, true, 10),
        };
        var df = epochs.ToDataFrame();
        Assert.True(double.IsNaN((double)df.Columns["val/HR@10"][0]!));
        Assert.Equal(0.6, (double)df.Columns["val/HR@10"][1]!);
        Assert.Equal(true, df.Columns["is_best"][1]);
    }

    [Fact]
    public void DataFrameHtml_ShowsTheFirstRowsAndTheShape()
    {
        var df = new DataFrame(new DoubleDataFrameColumn("x", Enumerable.Range(0, 30).Select(i => i * 0.5)));
        string html = DataFrames.ToHtml(df, maxRows: 5);
        Assert.Equal(1 + 5, html.Split("<tr>").Length - 1);
        Assert.Contains(">2</td>", html);            // row 4: 2.0
        Assert.DoesNotContain(">2.5</td>", html);    // row 5 not shown
        Assert.Contains("30 rows × 1 columns (first 5 shown)", html);
    }
}
