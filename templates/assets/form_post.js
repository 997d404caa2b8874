// Submits the form_post response to the client at once; the button is there without JavaScript.
document.getElementById("form-post").submit();
