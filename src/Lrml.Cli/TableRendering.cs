using Lrml.Experiments;
using Spectre.Console;

namespace Lrml.Cli;

internal static class TableRendering
{
    /// <summary>Prints a ResultTable as a console table with its notes.</summary>
    public static void Write(ResultTable t)
    {
        var table = new Table().Title(Markup.Escape(t.Title)).Border(TableBorder.Rounded);
        foreach (var c in t.Columns)
        {
            var col = new TableColumn(Markup.Escape(c));
            if (t.IsNumeric(c)) col.RightAligned();
            table.AddColumn(col);
        }
        for (int r = 0; r < t.Rows.Count; r++)
            table.AddRow(t.Columns.Select(c => Markup.Escape(t.Text(r, c))).ToArray());
        AnsiConsole.Write(table);
        foreach (var n in t.Notes) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(n)}[/]");
    }
}
