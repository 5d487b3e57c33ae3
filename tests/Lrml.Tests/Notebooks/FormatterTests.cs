using System.Reflection;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Notebooks;

namespace Lrml.Tests.Notebooks;

public class FormatterTests
{
    [Fact]
    public void HtmlTable_FormatsCellsInvariantlyAndEncodesText()
    {
        var t = new HtmlTable(["name", "count", "value", "missing"], "Caption <b>");
        t.AddRow("a<b>&c", 1234567, 0.123456789, double.NaN);
        t.AddRow("x", 5L, 12345.5, 1.0f);
        string html = t.ToHtml();
        Assert.Contains("<td style=\"text-align:left;padding:2px 10px\">a&lt;b&gt;&amp;c</td>", html);
        Assert.Contains(">1,234,567</td>", html);      // integers: thousands separators
        Assert.Contains(">0.1235</td>", html);         // doubles: 4 decimals
        Assert.Contains(">12,345.5</td>", html);       // ≥ 10,000: separators
        Assert.Contains(">–</td>", html);              // NaN
        Assert.Contains("Caption &lt;b&gt;", html);
        Assert.Contains("text-align:right", html);     // numeric cells right-aligned
        Assert.Throws<ArgumentException>(() => t.AddRow("too", "few"));
        var lines = t.ToString().Split('\n');
        Assert.Equal("Caption <b>", lines[0]);
        Assert.StartsWith("name", lines[1]);
        Assert.Equal(lines[3].Length, lines[4].Length);   // aligned rows
    }

    [Fact]
    public void RunResult_RendersWhatRanAndEveryMetric()
    {
        var run = InteractiveTestData.Run("LRML", 7, 0.7012345, 0.4301, validationHr: 0.69);
        Assert.True(KitFormatters.TryFormat(run, out string html));
        Assert.Contains(">LRML</td>", html);
        Assert.Contains(">ml-1m</td>", html);
        Assert.Contains(">ncf</td>", html);
        Assert.Contains(">HR@10</td>", html);
        Assert.Contains(">0.7012</td>", html);    // test HR@10
        Assert.Contains(">0.69</td>", html);      // validation HR@10
        Assert.Contains(">0.4301</td>", html);    // test nDCG@10
        Assert.Contains(">–</td>", html);         // nDCG@10 has no validation value
        Assert.Contains("20 (best 17)", html);
        Assert.Contains(">abc1234</td>", html);
    }

    [Fact]
    public void ListOfRuns_UsesTheMostSpecificFormatter_OneRowPerRun()
    {
        var runs = new List<RunResult> { InteractiveTestData.Run("LRML", 1, 0.70, 0.43), InteractiveTestData.Run("CML", 1, 0.66, 0.40) };
        Assert.True(KitFormatters.TryFormat(runs, out string html));
        Assert.Contains("2 runs", html);
        Assert.Equal(2 + 1, html.Split("<tr>").Length - 1);   // header + 2 rows
        Assert.Contains(">0.66</td>", html);
        Assert.Contains(">CML</td>", html);
        Assert.True(KitFormatters.TryFormat(runs.ToArray(), out string fromArray));
        Assert.Equal(html, fromArray);
    }

    [Fact]
    public void EvaluationResult_RendersMeansAndCounts()
    {
        Assert.True(KitFormatters.TryFormat(InteractiveTestData.Evaluation(), out string html));
        Assert.Contains(">0.6667</td>", html);
        Assert.Contains(">0.5</td>", html);
        Assert.Contains("3 users evaluated, 1 skipped", html);
        Assert.Contains("LRML · Test · sampled candidates", html);
    }

    [Fact]
    public void DatasetCard_RendersEveryRowOfTheCard()
    {
        var card = DatasetCard.From(SyntheticData.Generate(new SyntheticOptions { Users = 50, Items = 40, Seed = 3 }).Data);
        Assert.True(KitFormatters.TryFormat(card, out string html));
        foreach (var (key, value) in card.Rows())
        {
            Assert.Contains(">" + HtmlTable.Encode(key) + "</td>", html);
            Assert.Contains(">" + HtmlTable.Encode(value) + "</td>", html);
        }
        Assert.True(KitFormatters.TryFormat(new[] { card, card }, out string many));
        Assert.Contains(">synthetic</td>", many);
        Assert.Equal(3, many.Split("<tr>").Length - 1);
    }

    [Fact]
    public void ResultTable_UsesItsColumnFormatsAndNotes()
    {
        var table = new ResultTable("Main table", "model", "HR@10").Format("HR@10", "F3");
        table.AddRow(("model", "LRML"), ("HR@10", 0.70123));
        table.AddRow(("model", "CML"), ("HR@10", 0.6));
        table.Notes.Add("mean over 5 seeds");
        Assert.True(KitFormatters.TryFormat(table, out string html));
        Assert.Contains("<td style=\"text-align:right;padding:2px 10px\">0.701</td>", html);
        Assert.Contains("<td style=\"text-align:right;padding:2px 10px\">0.600</td>", html);
        Assert.Contains("<td style=\"text-align:left;padding:2px 10px\">CML</td>", html);
        Assert.Contains("Main table", html);
        Assert.Contains("mean over 5 seeds", html);
    }

    private sealed record Custom(string Name);

    [Fact]
    public void NewTypes_AreOneLine()
    {
        Assert.False(KitFormatters.TryFormat(new Custom("x"), out _));
        KitFormatters.Add<Custom>(c => $"<b>{c.Name}</b>");
        Assert.True(KitFormatters.TryFormat(new Custom("y"), out string html));
        Assert.Equal("<b>y</b>", html);
        Assert.Contains(typeof(Custom), KitFormatters.Types);
    }

    [Fact]
    public void FormatterSource_FollowsTheConventionDotNetInteractiveLooksFor()
    {
        // .NET Interactive finds an attribute named TypeFormatterSourceAttribute with a FormatterSourceType property,
        // instantiates that type, calls CreateTypeFormatters(), and uses each formatter's MimeType, Type and Format.
        var attr = typeof(HtmlTable).GetCustomAttributes(true).Single(a => a.GetType().Name == "TypeFormatterSourceAttribute");
        var sourceType = (Type)attr.GetType().GetProperty("FormatterSourceType")!.GetValue(attr)!;
        var source = Activator.CreateInstance(sourceType)!;
        var formatters = ((System.Collections.IEnumerable)sourceType.GetMethod("CreateTypeFormatters")!.Invoke(source, null)!).Cast<object>().ToList();
        var forRun = formatters.Single(f => (Type)f.GetType().GetProperty("Type")!.GetValue(f)! == typeof(RunResult));
        Assert.Equal("text/html", forRun.GetType().GetProperty("MimeType")!.GetValue(forRun));
        var format = forRun.GetType().GetMethod("Format", [typeof(object), typeof(TextWriter)])!;
        var writer = new StringWriter();
        Assert.True((bool)format.Invoke(forRun, [InteractiveTestData.Run("LRML", 1, 0.5, 0.25), writer])!);
        Assert.Contains(">0.25</td>", writer.ToString());
        Assert.False((bool)format.Invoke(forRun, ["not a run", new StringWriter()])!);
        Assert.Contains(formatters, f => (Type)f.GetType().GetProperty("Type")!.GetValue(f)! == typeof(DatasetCard));
    }

    [Fact]
    public void TheLibraryDoesNotReferenceDotNetInteractive()
    {
        var refs = typeof(Notebook).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();
        Assert.DoesNotContain(refs, n => n.StartsWith("Microsoft.DotNet.Interactive", StringComparison.Ordinal));
    }
}
