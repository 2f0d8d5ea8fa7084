"""Story text out of markup: the same paragraphs from a parsed XML element and from HTML source."""

from xml.etree.ElementTree import fromstring

from producers.sources.markup import element_text, html_text

XHTML = """<html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head><body>
  <header><h1>Headline again</h1></header>
  <section><p>First   paragraph,
      wrapped in the source.</p>
    <figure><img src="x.jpg"/><figcaption>A caption</figcaption></figure>
    <p>Line one<br/>line <b>two</b></p><ul><li>item</li></ul>tail words</section>
</body></html>"""


def test_element_and_html_text_agree():
    expected = "First paragraph, wrapped in the source.\n\nLine one\nline two\n\nitem\n\ntail words"
    assert element_text(fromstring(XHTML)) == expected
    assert html_text(XHTML) == expected


def test_deep_nesting_needs_no_recursion():
    deep = fromstring("<div>" * 5000 + "deep" + "</div>" * 5000)
    assert element_text(deep) == "deep"


def test_entities_and_empty_markup():
    # A no-break space is white space like any other.
    assert html_text("<p>A &amp; B&nbsp;C</p>") == "A & B C"
    assert html_text("") == "" and element_text(fromstring("<p>  </p>")) == ""
